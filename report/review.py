"""The clerical review loop: export the review pairs, import reviewers' decisions, serve overrides.

``review/review_pairs.csv`` is for designated professionals: it shows both records side by side
(names, DOB, NHS number) with the per-field weights, and a ``decision`` column to fill in with
``match``, ``no match`` or ``unsure``. Every cell is CSV-injection safe. :func:`import_review`
appends the decisions to ``review_decisions`` (history is kept; the latest decision on a pair
wins) and :func:`review_overrides` turns the latest decisions into ``force_link`` /
``force_split`` instructions for the linkage engine's next night.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from ground.errors import OperatorError
from ground.identifiers import SOURCE_KEY_PATTERN, record_id_problem
from ground.outputs import require_complete
from ground.safe_csv import csv_uncell, write_safe_rows
from ground.state import open_state
from linkage.review_decisions import ReviewDecision, latest_decisions, newest_decisions, pair_key, review_overrides

__all__ = ["export_review", "import_review", "latest_decisions", "pair_key", "review_overrides"]

log = logging.getLogger(__name__)

REVIEW_FILE = Path("review") / "review_pairs.csv"
KEY_COLUMNS = ["source_l", "record_id_l", "source_r", "record_id_r"]
REVIEWER_MAX_LENGTH = 128  # review_decisions.reviewer
DISPLAY_FIELDS = [
    "forename", "middle_names", "surname", "known_as", "dob", "sex",
    "address_line1", "postcode", "nhs_number", "team", "practice",
]
DECISIONS = ("match", "no_match", "unsure")
_SYNONYMS = {
    "match": "match", "yes": "match", "y": "match", "same": "match", "same person": "match",
    "no match": "no_match", "no_match": "no_match", "nomatch": "no_match", "no-match": "no_match",
    "no": "no_match", "n": "no_match", "not a match": "no_match", "different": "no_match",
    "unsure": "unsure", "?": "unsure", "not sure": "unsure", "don't know": "unsure",
}


def normalise_decision(text: str) -> str | None:
    """Map what a reviewer typed to ``match`` / ``no_match`` / ``unsure``; ``""`` when left blank.

    Args:
        text: the ``decision`` cell.

    Returns:
        the decision, ``""`` for a blank cell, ``None`` when it cannot be understood.
    """
    t = " ".join(text.strip().lower().replace("_", " ").split())
    if not t:
        return ""
    return _SYNONYMS.get(t) or _SYNONYMS.get(t.replace(" ", "_"))


# ---------------------------------------------------------------------------------------------
# export


def review_frame(pairs: pl.DataFrame, people: pl.DataFrame | None) -> pl.DataFrame:
    """The review pairs with both records' display fields side by side.

    Args:
        pairs: ``linkage/pairs.parquet`` (only ``decision == "review"`` rows are kept).
        people: ``landing/people.parquet`` or ``None`` (then only ids and weights are shown).
    """
    review = pairs.filter(pl.col("decision") == "review") if "decision" in pairs.columns else pairs.clear()
    review = review.with_columns([pl.col(c).cast(pl.String) for c in KEY_COLUMNS])
    if people is not None and {"source", "record_id"} <= set(people.columns):
        fields = [c for c in DISPLAY_FIELDS if c in people.columns]
        disp = people.select(
            pl.col("source").cast(pl.String), pl.col("record_id").cast(pl.String),
            *[pl.col(c).cast(pl.String) for c in fields],
        ).unique(subset=["source", "record_id"], keep="first")
        for side in ("l", "r"):
            review = review.join(
                disp.rename({c: f"{c}_{side}" for c in disp.columns}),
                on=[f"source_{side}", f"record_id_{side}"], how="left",
            )
    if "weight" in review.columns:
        review = review.sort("weight", descending=True)
    return review


def export_review(
    night_dir: Path,
    pairs: pl.DataFrame,
    people: pl.DataFrame | None,
    extract_date: date,
    previous: dict[str, str] | None = None,
) -> tuple[Path, int]:
    """Write ``night_dir/review/review_pairs.csv`` for the designated professionals.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        pairs: ``linkage/pairs.parquet``.
        people: ``landing/people.parquet`` or ``None``.
        extract_date: the night.
        previous: pair_key -> the latest decision already recorded (shown, not pre-filled).

    Returns:
        ``(path, number of pairs written)``.
    """
    previous = previous or {}
    frame = review_frame(pairs, people)
    weight_cols = [c for c in frame.columns if c.startswith("w_")]
    shown = [f for f in DISPLAY_FIELDS if f"{f}_l" in frame.columns]
    columns = ["pair_key", "extract_date", "weight", "match_probability", "guard", *KEY_COLUMNS]
    columns += [f"{f}_{s}" for f in shown for s in ("l", "r")]
    columns += [*weight_cols, "previous_decision", "decision"]
    rows = []
    for rec in frame.iter_rows(named=True):
        key = pair_key(*(rec[c] for c in KEY_COLUMNS))
        row = {c: rec.get(c) for c in columns}
        row.update(pair_key=key, extract_date=extract_date.isoformat(),
                   previous_decision=previous.get(key, "").replace("_", " "), decision="")
        rows.append(row)
    path = night_dir / REVIEW_FILE
    n = write_safe_rows(path, columns, rows)
    return path, n


# ---------------------------------------------------------------------------------------------
# import


@dataclass
class ImportResult:
    """What :func:`import_review` recorded (counts only, plus row-level problems without person data)."""

    file: str
    reviewer: str
    rows: int = 0
    recorded: int = 0
    superseded: int = 0
    unchanged: int = 0
    blank: int = 0
    invalid: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"file": self.file, "reviewer": self.reviewer, "rows": self.rows, "recorded": self.recorded,
                "superseded": self.superseded, "unchanged": self.unchanged, "blank": self.blank,
                "invalid": len(self.invalid)}


def _read_rows(file: Path) -> list[dict[str, str]]:
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # saved by a spreadsheet in the Windows code page
        text = raw.decode("cp1252", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=False)
    try:
        return [{k.strip(): csv_uncell(v if isinstance(v, str) else "") for k, v in row.items() if k is not None}
                for row in reader]
    except csv.Error as exc:
        raise OperatorError(f"{file.name} line {reader.line_num}: not valid CSV ({exc}); save the review file "
                            "again as CSV from the spreadsheet and import it again") from None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def import_review(file: Path, state_url: str, reviewer: str, output_dir: Path | None = None) -> ImportResult:
    """Record the decisions of a filled-in review file in ``review_decisions``.

    Blank decisions are skipped; a decision identical to the pair's latest one by the same reviewer is
    not recorded again; any other decision is appended and supersedes earlier ones on the same pair.
    Rows whose ``pair_key`` does not match their record ids, or whose decision cannot be read, are
    reported in ``invalid`` (by line number only) and not recorded.

    Args:
        file: the edited ``review_pairs.csv``.
        state_url: the state database URL.
        reviewer: who made the decisions (recorded with each one).
        output_dir: the deployment's output folder: when given, every night the file's pairs come from
            must be complete (its run finished), or nothing is recorded.

    Raises:
        OperatorError: not a review file, no reviewer, or (with ``output_dir``) a night that is not complete.
    """
    file = Path(file)
    reviewer = reviewer.strip()
    if not reviewer or len(reviewer) > REVIEWER_MAX_LENGTH:
        raise OperatorError(f"give --reviewer a name of 1 to {REVIEWER_MAX_LENGTH} characters")
    if not file.is_file():
        raise OperatorError(f"{file}: no such file: give the path of the marked review CSV")
    rows = _read_rows(file)
    result = ImportResult(file=file.name, reviewer=reviewer, rows=len(rows))
    if rows:
        missing = [c for c in ["pair_key", *KEY_COLUMNS, "decision"] if c not in rows[0]]
        if missing:
            raise OperatorError(f"{file.name} is not a review file: missing columns {missing}; import the "
                                "review_pairs.csv the report wrote, with its decision column filled in")
    if output_dir is not None:
        for night in sorted({(row.get("extract_date") or "").strip() for row in rows} - {""}):
            if _parse_date(night) is not None:
                require_complete(output_dir / night)
    now = datetime.now(UTC)
    engine = open_state(state_url)
    try:
        with Session(engine) as session, session.begin():
            latest = newest_decisions(session)
            seen: dict[str, int] = {}
            for line, row in enumerate(rows, start=2):
                decision = normalise_decision(row.get("decision", ""))
                if decision == "":
                    result.blank += 1
                    continue
                if decision is None:
                    result.invalid.append(f"line {line}: decision not understood (use match / no match / unsure)")
                    continue
                ids = [(row[c] or "").strip() for c in KEY_COLUMNS]
                key = (row["pair_key"] or "").strip()
                if any(record_id_problem(i) for i in ids[1::2]) or not all(
                        re.fullmatch(SOURCE_KEY_PATTERN, s) for s in ids[0::2]):
                    result.invalid.append(f"line {line}: a source or record id is not one the pipeline writes")
                    continue
                if not all(ids) or pair_key(*ids) != key:
                    result.invalid.append(f"line {line}: pair_key does not match the record ids")
                    continue
                if key in seen:
                    result.invalid.append(f"line {line}: pair already decided on line {seen[key]} of this file")
                    continue
                seen[key] = line
                before = latest.get(key)
                if before is not None and before.decision == decision and before.reviewer == reviewer:
                    result.unchanged += 1
                    continue
                if before is not None:
                    result.superseded += 1
                night = row.get("extract_date", "").strip()
                session.execute(insert(ReviewDecision).values(
                    pair_key=key, source_l=ids[0], record_id_l=ids[1], source_r=ids[2], record_id_r=ids[3],
                    decision=decision, reviewer=reviewer, decided_at=now,
                    weight=_float(row.get("weight", "")), match_probability=_float(row.get("match_probability", "")),
                    extract_date=_parse_date(night), source_file=file.name[:255],
                ))
                result.recorded += 1
    finally:
        engine.dispose()
    log.info("review import %s by %s: %s", file.name, reviewer, result.summary())
    return result


def record_decision(engine: Engine, ids: tuple[str, str, str, str], decision: str, reviewer: str, *,
                    weight: float | None = None, match_probability: float | None = None,
                    extract_date: date | None = None, source: str = "case view") -> str:
    """Record one reviewer's decision on one pair (appended; the latest decision on a pair wins).

    The next night's linkage applies it through :func:`review_overrides`, as for an imported file.

    Args:
        engine: the state database.
        ids: ``(source_l, record_id_l, source_r, record_id_r)``.
        decision: ``match``, ``no_match`` or ``unsure``.
        reviewer: who decided (recorded with the decision).
        weight: the pair's weight when it was shown.
        match_probability: its match probability when shown.
        extract_date: the night the pair was shown from.
        source: where the decision came from (a file name, or ``case view``).

    Returns:
        The pair's key.

    Raises:
        ValueError: an unknown decision or a blank reviewer.
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    if not reviewer.strip():
        raise ValueError("a reviewer is required")
    key = pair_key(*ids)
    with Session(engine) as session, session.begin():
        session.execute(insert(ReviewDecision).values(
            pair_key=key, source_l=ids[0], record_id_l=ids[1], source_r=ids[2], record_id_r=ids[3],
            decision=decision, reviewer=reviewer.strip()[:128], decided_at=datetime.now(UTC), weight=weight,
            match_probability=match_probability, extract_date=extract_date, source_file=source[:255],
        ))
    log.info("review decision recorded from %s", source)
    return key


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
