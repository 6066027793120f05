"""The nightly job as a sequence of stages, each one library call shared by the CLI and the DAG.

Stages exchange files in the night's folder (``<output>/<YYYY-MM-DD>``) and the state database;
each stage function returns counts only (safe for logs and Airflow XCom).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ground.layout import NightLayout
from ground.settings import DEFAULT_CONFIG_DIR, load_settings
from ground.sources import SourcesConfig, load_sources
from ground.state import default_state_url
from landing.ingest import ConservationError, check_drop, combine_sources, ingest_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Night:
    """Everything a stage needs to find its inputs and outputs for one extract date."""

    landing: Path
    output: Path
    extract_date: dt.date
    config_dir: Path = DEFAULT_CONFIG_DIR
    state_url: str = ""
    allow_incomplete: bool = False

    @property
    def night_dir(self) -> Path:
        """``<output>/<YYYY-MM-DD>``."""
        return self.output / self.extract_date.isoformat()

    @property
    def state(self) -> str:
        """The state database URL (embedded SQLite inside the output folder unless configured)."""
        return self.state_url or load_settings().state_url or default_state_url(self.output)

    def sources(self) -> SourcesConfig:
        """The validated sources configuration."""
        return load_sources(self.config_dir / "sources.yaml")


def stage_wait(night: Night) -> dict[str, Any]:
    """Check the drop is there (and complete unless told otherwise).

    Args:
        night: the night.
    """
    complete = check_drop(night.landing, night.extract_date, require_success=not night.allow_incomplete)
    return {"complete_drop": complete}


def stage_ingest_source(night: Night, source: str) -> dict[str, Any]:
    """Ingest one source's files, then run its data-quality gate (Great Expectations suites).

    Args:
        night: the night.
        source: the source key.
    """
    from checks.gate import validate_source

    result = ingest_source(night.landing, night.extract_date, night.sources(), source, night.night_dir)
    gate = validate_source(night.night_dir, source, night.config_dir, night.extract_date)
    return {"source": source, "status": result.status, "people": result.people,
            "appointments": result.appointments, "mentions": result.mentions, "quarantined": result.quarantined,
            "gate": gate.status, "gate_failures": len(gate.failures), "gate_warnings": len(gate.warnings),
            "set_aside_by_checks": gate.set_aside_by_checks}


def stage_combine(night: Night, complete_drop: bool = True) -> dict[str, Any]:
    """Combine tonight's sources that passed the gate into the canonical tables; render the validation docs.

    Args:
        night: the night.
        complete_drop: whether the drop had its ``_SUCCESS`` marker.
    """
    from checks.docs import render_validation_docs
    from checks.gate import excluded_sources

    sources = night.sources()
    failed = excluded_sources(night.night_dir, list(sources.sources))
    result = combine_sources(night.night_dir, sources, complete_drop=complete_drop, exclude=failed)
    docs = render_validation_docs(night.night_dir)
    conservation: dict[str, dict[str, int | bool]] = {}
    for count in result.files:
        row = conservation.setdefault(count.source, {"rows_read": 0, "accepted": 0, "quarantined": 0,
                                                     "duplicates": 0})
        for key in ("rows_read", "accepted", "quarantined", "duplicates"):
            row[key] += getattr(count, key)
    for row in conservation.values():
        row["conserved"] = row["rows_read"] == row["accepted"] + row["quarantined"] + row["duplicates"]
        if not row["conserved"]:
            raise ConservationError(f"rows do not add up after the gate: {row}")
    return {"conservation": conservation, "people": result.people, "appointments": result.appointments,
            "mentions": result.mentions,
            "quarantined": result.quarantined, "sources_missing": result.sources_missing,
            "sources_failed": result.sources_failed, "sources_excluded_by_gate": sorted(failed),
            "complete_drop": result.complete_drop, "validation_docs": str(docs.relative_to(night.night_dir))}


def stage_link(night: Night) -> dict[str, Any]:
    """Link tonight's people records into persons and resolve mentions.

    Args:
        night: the night.
    """
    from linkage import link_night

    result = link_night(night.night_dir, night.config_dir / "linkage_model.json", night.state,
                        night.extract_date, night.config_dir, models_dir=night.output / "models")
    return _counts(result)


def stage_detect(night: Night) -> dict[str, Any]:
    """Apply the safeguarding rules.

    Args:
        night: the night.
    """
    from alerts.rules import detect_night

    return _counts(detect_night(night.night_dir, night.config_dir, night.state, night.extract_date))


def stage_send(night: Night) -> dict[str, Any]:
    """Send (or, on the embedded default, write to the outbox) one digest per lead.

    Args:
        night: the night.
    """
    from alerts import send_digests

    return _counts(send_digests(night.night_dir, night.config_dir, night.state, night.extract_date))


def stage_report(night: Night) -> dict[str, Any]:
    """Write the night's linkage report and review file.

    Args:
        night: the night.
    """
    from report import build_report

    return _counts(build_report(night.night_dir, night.config_dir, night.state, night.extract_date))


def _counts(result: Any) -> dict[str, Any]:
    """A stage result as a JSON-ready dict of counts (dataclasses or dicts)."""
    if isinstance(result, dict):
        return result
    if hasattr(result, "summary"):
        return dict(result.summary())
    from dataclasses import asdict, is_dataclass

    if is_dataclass(result) and not isinstance(result, type):
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
    return {"result": str(result)}


@dataclass
class RunSummary:
    """Counts and durations of one run (no person data)."""

    extract_date: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    durations_s: dict[str, float] = field(default_factory=dict)

    def write(self, night_dir: Path) -> Path:
        """Write ``run_summary.json`` into the night's folder.

        Args:
            night_dir: ``<output>/<YYYY-MM-DD>``.
        """
        path = NightLayout(night_dir).run_summary
        path.write_text(json.dumps(self.__dict__, indent=2, default=str), encoding="utf-8")
        return path


def stage_publish(night: Night, stages: dict[str, dict[str, Any]], durations_s: dict[str, float]) -> dict[str, Any]:
    """Write ``run_summary.json`` and log it: the record of the run for engineers.

    Args:
        night: the night.
        stages: each stage's counts.
        durations_s: each stage's wall time in seconds.
    """
    summary = RunSummary(extract_date=night.extract_date.isoformat(), stages=stages, durations_s=durations_s)
    path = summary.write(night.night_dir)
    log.info("run %s summary: %s", night.extract_date, json.dumps({"durations_s": durations_s}, default=str))
    return {"summary": str(path)}


def _timed(summary: RunSummary, name: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    counts = call()
    summary.durations_s[name] = round(time.perf_counter() - started, 3)
    summary.stages[name] = counts
    log.info("stage %s done in %.2fs: %s", name, summary.durations_s[name], counts)
    return counts


STAGES_AFTER_COMBINE: list[tuple[str, Callable[[Night], dict[str, Any]]]] = [
    ("link", stage_link),
    ("detect", stage_detect),
    ("send", stage_send),
    ("report", stage_report),
]


def run_night(night: Night) -> RunSummary:
    """Run the whole nightly job for one extract date.

    Args:
        night: the night.
    """
    summary = RunSummary(extract_date=night.extract_date.isoformat())
    night.night_dir.mkdir(parents=True, exist_ok=True)
    wait = _timed(summary, "wait", lambda: stage_wait(night))
    for source in night.sources().sources:
        _timed(summary, f"ingest_{source}", lambda s=source: stage_ingest_source(night, s))  # type: ignore[misc]
    _timed(summary, "combine", lambda: stage_combine(night, wait["complete_drop"]))
    for name, stage in STAGES_AFTER_COMBINE:
        _timed(summary, name, lambda st=stage: st(night))  # type: ignore[misc]
    stage_publish(night, summary.stages, summary.durations_s)
    return summary
