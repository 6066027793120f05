"""The layout of a deployment's output folder and of one night's folder in it: every path, once.

``<output>/`` is one deployment (its ``state.sqlite`` unless ``SAFELINK_STATE_URL`` says otherwise) and
one folder per extract date, ``<output>/<YYYY-MM-DD>/``. Stages name files through :class:`NightLayout`,
never with path literals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NightLayout:
    """One night's folder, ``<output>/<YYYY-MM-DD>/``, and every file the stages leave in it.

    Attributes:
        root: the night's folder.
    """

    root: Path

    @classmethod
    def of(cls, output: Path, extract_date: dt.date) -> NightLayout:
        """The night folder of ``extract_date`` under a deployment's output folder.

        Args:
            output: the deployment's output folder.
            extract_date: the night.
        """
        return cls(output / extract_date.isoformat())

    # landing: the canonical tables and each source's own tables
    @property
    def landing(self) -> Path:
        """``landing/``: the canonical tables."""
        return self.root / "landing"

    @property
    def people(self) -> Path:
        """``landing/people.parquet``."""
        return self.landing / "people.parquet"

    @property
    def appointments(self) -> Path:
        """``landing/appointments.parquet``."""
        return self.landing / "appointments.parquet"

    @property
    def mentions(self) -> Path:
        """``landing/mentions.parquet``."""
        return self.landing / "mentions.parquet"

    @property
    def drop(self) -> Path:
        """``landing/drop.json``: whether the drop was complete; sources expected, present, missing, failed."""
        return self.landing / "drop.json"

    @property
    def files(self) -> Path:
        """``landing/files.parquet``: one row per file read."""
        return self.landing / "files.parquet"

    def source(self, source: str) -> Path:
        """``landing/sources/<source>/``: one source's tables, quarantine and status.

        Args:
            source: the source code.
        """
        return self.landing / "sources" / source

    # checks
    @property
    def checks(self) -> Path:
        """``checks/``."""
        return self.root / "checks"

    def checks_of(self, source: str) -> Path:
        """``checks/<source>/``: one source's expectation results and gate decision.

        Args:
            source: the source code.
        """
        return self.checks / source

    def gate(self, source: str) -> Path:
        """``checks/<source>/gate.json``: the batch gate's decision for one source.

        Args:
            source: the source code.
        """
        return self.checks_of(source) / "gate.json"

    def results(self, source: str) -> Path:
        """``checks/<source>/results.json``: each expectation's outcome for one source.

        Args:
            source: the source code.
        """
        return self.checks_of(source) / "results.json"

    @property
    def validation_html(self) -> Path:
        """``checks/validation.html``: the rendered validation results."""
        return self.checks / "validation.html"

    @property
    def quarantine(self) -> Path:
        """``checks/quarantine.csv``: every row set aside, with its reason."""
        return self.checks / "quarantine.csv"

    # linkage
    @property
    def linkage(self) -> Path:
        """``linkage/``."""
        return self.root / "linkage"

    @property
    def linked_records(self) -> Path:
        """``linkage/records.parquet``: one row per people record with its ``person_id``."""
        return self.linkage / "records.parquet"

    @property
    def pairs(self) -> Path:
        """``linkage/pairs.parquet``: scored candidate pairs."""
        return self.linkage / "pairs.parquet"

    @property
    def resolved_mentions(self) -> Path:
        """``linkage/mentions.parquet``: mentions with the person they resolve to."""
        return self.linkage / "mentions.parquet"

    @property
    def shards(self) -> Path:
        """``linkage/shards/``: the link stage's working files between blocking, scoring and clustering."""
        return self.linkage / "shards"

    @property
    def shard_plan(self) -> Path:
        """``linkage/shards/plan.json``: the night's shards, model choice and blocking counts (no person data)."""
        return self.shards / "plan.json"

    @property
    def shard_records(self) -> Path:
        """``linkage/shards/records.parquet``: tonight's standardised records."""
        return self.shards / "records.parquet"

    @property
    def shard_frequencies(self) -> Path:
        """``linkage/shards/frequencies.parquet``: how common each name is tonight (term frequencies)."""
        return self.shards / "frequencies.parquet"

    @property
    def shard_keys(self) -> Path:
        """``linkage/shards/keys.parquet``: each record's content key (for reusing comparisons the next night)."""
        return self.shards / "keys.parquet"

    @property
    def shard_model(self) -> Path:
        """``linkage/shards/model.json``: the model every shard scores with tonight."""
        return self.shards / "model.json"

    def candidates(self, shard: int) -> Path:
        """``linkage/shards/candidates/part-<k>.parquet``: one shard's candidate pairs.

        Args:
            shard: the shard's index.
        """
        return self.shards / "candidates" / f"part-{shard:05d}.parquet"

    def scored(self, shard: int) -> Path:
        """``linkage/shards/scored/part-<k>.parquet``: one shard's scored pairs.

        Args:
            shard: the shard's index.
        """
        return self.shards / "scored" / f"part-{shard:05d}.parquet"

    def scored_counts(self, shard: int) -> Path:
        """``linkage/shards/scored/part-<k>.json``: one shard's counts and seconds (no person data).

        Args:
            shard: the shard's index.
        """
        return self.shards / "scored" / f"part-{shard:05d}.json"

    @property
    def person_links(self) -> Path:
        """``person_links.csv``: the contract's file."""
        return self.root / "person_links.csv"

    # alerts
    @property
    def findings_csv(self) -> Path:
        """``findings.csv``: the contract's file."""
        return self.root / "findings.csv"

    @property
    def findings(self) -> Path:
        """``findings.parquet``: every finding with its evidence."""
        return self.root / "findings.parquet"

    @property
    def outbox(self) -> Path:
        """``outbox/``: digests as ``.eml`` files on the embedded default."""
        return self.root / "outbox"

    # report
    @property
    def report(self) -> Path:
        """``report.html``."""
        return self.root / "report.html"

    @property
    def review(self) -> Path:
        """``review/``."""
        return self.root / "review"

    @property
    def review_pairs(self) -> Path:
        """``review/review_pairs.csv``: pairs for clerical review."""
        return self.review / "review_pairs.csv"

    @property
    def run_summary(self) -> Path:
        """``run_summary.json``: counts and durations per stage."""
        return self.root / "run_summary.json"
