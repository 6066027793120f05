"""The rules stage: apply every enabled rule to one night and write the findings files.

Entry point: :func:`detect_night` (the CLI and the Airflow DAG call it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from alerts.rules.config import load_rules
from alerts.rules.frames import FINDING_SCHEMA, RuleInputs, load_inputs
from alerts.rules.registry import ID_KEYS, RULES
from alerts.rules.settings import RulesConfig
from alerts.rules.state_tables import RuleFinding, RuleFindingNight
from ground import outputs
from ground.allocation import gc_paused
from ground.layout import NightLayout
from ground.safe_csv import write_safe_csv
from ground.state import open_state

log = logging.getLogger(__name__)

CONTRACT_COLUMNS = ["finding_id", "rule", "child_person_id", "adult_person_id", "first_seen", "summary"]
PARQUET_COLUMNS = [
    "finding_id", "rule", "rule_version", "child_person_id", "adult_person_id", "first_seen", "last_seen",
    "status", "evidence", "evidence_fingerprint", "link_confidence", "needs_confirmation",
    "child_records", "adult_records", "routes", "summary",
]
STATUSES = ("new", "updated", "unchanged", "closed", "held")
ALIVE = ("new", "updated", "unchanged", "held")
# Evidence keys that change from night to night without the facts changing (file names carry the date,
# row numbers move as files grow, confidences move as the model is retrained): not fingerprinted.
VOLATILE_KEYS = frozenset({"file", "row", "confidence"})


@dataclass
class DetectResult:
    """Counts of one night's rules stage (no person data): per rule, new / updated / unchanged / closed / held.

    ``held`` counts findings absent tonight that relied on a source missing from tonight's drop:
    they are neither reported nor closed.
    """

    extract_date: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    findings: int = 0
    contract_findings: int = 0
    needs_confirmation: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (for run_summary.json and XCom)."""
        return {"extract_date": self.extract_date, "counts": self.counts, "findings": self.findings,
                "contract_findings": self.contract_findings, "needs_confirmation": self.needs_confirmation}


def finding_id(rule: str, child_person_id: str | None, adult_person_id: str | None) -> str:
    """Stable identifier of a finding: ``F`` + 12 hex digits of sha1 over the rule and the persons it is about.

    Args:
        rule: the rule name.
        child_person_id: the child's person id (None where blank).
        adult_person_id: the adult's person id (None where blank).
    """
    people = {"child_person_id": child_person_id or "", "adult_person_id": adult_person_id or ""}
    key = "|".join([rule, *(people[k] for k in ID_KEYS.get(rule, ("child_person_id", "adult_person_id")))])
    return "F" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in sorted(value.items()) if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def evidence_fingerprint(evidence: str) -> str:
    """sha256 (first 16 hex digits) of the evidence JSON without its volatile keys (file, row, confidence).

    Args:
        evidence: the evidence JSON string.
    """
    canonical = json.dumps(_strip_volatile(json.loads(evidence)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def apply_rules(inputs: RuleInputs, config: RulesConfig) -> pl.DataFrame:
    """Run every enabled rule, in the registry's order, and add ids, versions, fingerprints and confirmation flags.

    Each rule sees the findings of the rules before it (with their ids).

    Args:
        inputs: the night's facts.
        config: the rules configuration.
    """
    versions = {name: settings.version for name, settings in config.each_rule()}
    enabled = set(config.enabled())
    found = _identify(pl.DataFrame(schema=FINDING_SCHEMA), versions, config)
    for rule in RULES:
        if rule.NAME in enabled:
            found = pl.concat([found, _identify(rule.detect(inputs, config, found), versions, config)],
                              how="vertical")
    duplicated = found.get_column("finding_id").is_duplicated()
    if duplicated.any():
        # cannot happen by construction (one row per rule and persons); keep the first deterministically
        log.warning("rules: %d duplicate finding ids dropped", int(duplicated.sum()))
        found = found.sort("finding_id", "evidence_fingerprint").unique(subset="finding_id", keep="first")
    return found.sort(["rule", "child_person_id", "adult_person_id"], nulls_last=True)


def _identify(found: pl.DataFrame, versions: dict[str, str], config: RulesConfig) -> pl.DataFrame:
    """Add ``finding_id``, ``evidence_fingerprint``, ``rule_version`` and ``needs_confirmation`` to findings."""
    return found.with_columns(
        pl.struct("rule", "child_person_id", "adult_person_id")
        .map_elements(lambda s: finding_id(s["rule"], s["child_person_id"], s["adult_person_id"]),
                      return_dtype=pl.String)
        .alias("finding_id"),
        pl.col("evidence").map_elements(evidence_fingerprint, return_dtype=pl.String).alias("evidence_fingerprint"),
        pl.col("rule").replace_strict(versions, return_dtype=pl.String).alias("rule_version"),
        (pl.col("link_confidence") < config.link_threshold).alias("needs_confirmation"),
    )


def _sources_of(found: pl.DataFrame) -> pl.Series:
    refs = pl.concat_list(pl.col("child_records"), pl.col("adult_records"))
    return found.select(
        refs.list.eval(pl.element().str.split(":").list.first()).list.unique().list.sort().list.join(",")
    ).to_series()


def _histories(session: Session, finding_ids: list[str], chunk: int = 500) -> dict[str, RuleFinding]:
    """The stored history rows of these findings, in a few queries (not one round trip per finding)."""
    found: dict[str, RuleFinding] = {}
    for start in range(0, len(finding_ids), chunk):
        part = finding_ids[start:start + chunk]
        found.update((r.finding_id, r) for r in session.scalars(select(RuleFinding).where(
            RuleFinding.finding_id.in_(part))))
    return found


@gc_paused()  # an ORM row per finding, thousands on a first night
def record_state(engine: Engine, found: pl.DataFrame, extract_date: dt.date,
                 sources_present: tuple[str, ...]) -> pl.DataFrame:
    """Compare tonight with the previous night, write tonight's rows and return statuses and first_seen.

    Re-running a night replaces that night's rows (idempotent). A finding from the previous night that is
    absent tonight is ``closed``, unless it relied on a source missing tonight (then ``held``).

    Args:
        engine: the state database.
        found: tonight's findings (from :func:`apply_rules`).
        extract_date: the night.
        sources_present: sources read tonight.

    Returns:
        ``finding_id``, ``status``, ``first_seen``, ``last_seen`` for tonight's findings, plus the
        closed/held rows (``rule``, ``status``) for counting.
    """
    tonight = found.with_columns(_sources_of(found).alias("sources")).to_dicts()
    with Session(engine) as session, session.begin():
        prev_date = session.scalar(
            select(func.max(RuleFindingNight.extract_date)).where(RuleFindingNight.extract_date < extract_date)
        )
        previous: dict[str, RuleFindingNight] = {}
        if prev_date is not None:
            rows = session.scalars(select(RuleFindingNight).where(
                RuleFindingNight.extract_date == prev_date, RuleFindingNight.status.in_(ALIVE)))
            previous = {r.finding_id: r for r in rows}
        session.execute(delete(RuleFindingNight).where(RuleFindingNight.extract_date == extract_date))
        histories = _histories(session, [f["finding_id"] for f in tonight])
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for f in tonight:
            fid = f["finding_id"]
            seen.add(fid)
            before = previous.get(fid)
            if before is None:
                status = "new"
            elif before.evidence_fingerprint != f["evidence_fingerprint"]:
                status = "updated"
            else:
                status = "unchanged"
            history = histories.get(fid)
            if history is None:
                history = RuleFinding(finding_id=fid, rule=f["rule"], child_person_id=f["child_person_id"],
                                      adult_person_id=f["adult_person_id"], first_seen=extract_date,
                                      last_seen=extract_date)
                session.add(history)
                histories[fid] = history
            else:
                history.first_seen = min(history.first_seen, extract_date)
                history.last_seen = max(history.last_seen, extract_date)
                history.child_person_id = f["child_person_id"]
                history.adult_person_id = f["adult_person_id"]
            session.add(RuleFindingNight(
                extract_date=extract_date, finding_id=fid, rule=f["rule"], rule_version=f["rule_version"],
                status=status, evidence_fingerprint=f["evidence_fingerprint"],
                link_confidence=float(f["link_confidence"]), needs_confirmation=bool(f["needs_confirmation"]),
                sources=f["sources"],
            ))
            out.append({"finding_id": fid, "rule": f["rule"], "status": status,
                        "first_seen": history.first_seen, "last_seen": history.last_seen})
        for fid, before in sorted(previous.items()):
            if fid in seen:
                continue
            relied_on = set(filter(None, (before.sources or "").split(",")))
            status = "held" if relied_on - set(sources_present) else "closed"
            session.add(RuleFindingNight(
                extract_date=extract_date, finding_id=fid, rule=before.rule, rule_version=before.rule_version,
                status=status, evidence_fingerprint=before.evidence_fingerprint,
                link_confidence=before.link_confidence, needs_confirmation=before.needs_confirmation,
                sources=before.sources,
            ))
            out.append({"finding_id": fid, "rule": before.rule, "status": status,
                        "first_seen": None, "last_seen": None})
    return pl.DataFrame(out, schema={"finding_id": pl.String(), "rule": pl.String(), "status": pl.String(),
                                     "first_seen": pl.Date(), "last_seen": pl.Date()})


def closed_findings(state_url: str, extract_date: dt.date) -> pl.DataFrame:
    """Findings that disappeared on ``extract_date`` (status ``closed``), for reporting once as "no longer found".

    Args:
        state_url: the state database URL.
        extract_date: the night.
    """
    engine = open_state(state_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(RuleFindingNight.finding_id, RuleFindingNight.rule, RuleFinding.child_person_id,
                       RuleFinding.adult_person_id, RuleFinding.first_seen, RuleFinding.last_seen)
                .join(RuleFinding, RuleFinding.finding_id == RuleFindingNight.finding_id)
                .where(RuleFindingNight.extract_date == extract_date, RuleFindingNight.status == "closed")
                .order_by(RuleFindingNight.finding_id)
            ).all()
    finally:
        engine.dispose()
    return pl.DataFrame(
        [tuple(r) for r in rows], orient="row",
        schema={"finding_id": pl.String(), "rule": pl.String(), "child_person_id": pl.String(),
                "adult_person_id": pl.String(), "first_seen": pl.Date(), "last_seen": pl.Date()},
    )


def write_findings(found: pl.DataFrame, night_dir: Path) -> tuple[Path, Path]:
    """Write ``findings.parquet`` (every finding, rich) and ``findings.csv`` (the contract's file).

    ``findings.csv`` leaves out findings that need confirmation (they relied on a link or mention below
    the link threshold).

    Args:
        found: tonight's findings with statuses and dates.
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    night_dir.mkdir(parents=True, exist_ok=True)
    parquet = NightLayout(night_dir).findings
    outputs.write_parquet(found.select(PARQUET_COLUMNS), parquet)
    csv = NightLayout(night_dir).findings_csv
    write_safe_csv(found.filter(~pl.col("needs_confirmation")).select(CONTRACT_COLUMNS).with_columns(
        pl.col("first_seen").dt.strftime("%Y-%m-%d")
    ), csv)
    return csv, parquet


def detect_night(night_dir: Path, config_dir: Path, state_url: str, extract_date: dt.date) -> DetectResult:
    """Apply each enabled rule to one night and write ``findings.csv`` and ``findings.parquet``.

    Reads ``landing/{people,appointments}.parquet`` and ``linkage/{records,mentions}.parquet`` under
    ``night_dir``, keeps the findings history in the state database (``first_seen``, statuses, closures).

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        config_dir: the configuration folder (``rules.yaml``, ``nicknames.yaml``).
        state_url: SQLAlchemy URL of the state database.
        extract_date: the night's extract date.

    Returns:
        Counts per rule (no person data).
    """
    config = load_rules(config_dir)
    inputs = load_inputs(night_dir, config_dir, extract_date, config)
    found = apply_rules(inputs, config)
    engine = open_state(state_url)
    try:
        states = record_state(engine, found, extract_date, inputs.sources_present)
    finally:
        engine.dispose()
    result = found.join(states.select("finding_id", "status", "first_seen", "last_seen"), on="finding_id",
                        how="left")
    write_findings(result, night_dir)
    counts = {name: dict.fromkeys(STATUSES, 0) for name in config.enabled()}
    for row in states.group_by("rule", "status").len().iter_rows(named=True):
        counts.setdefault(row["rule"], dict.fromkeys(STATUSES, 0))[row["status"]] = int(row["len"])
    outcome = DetectResult(
        extract_date=extract_date.isoformat(),
        counts=counts,
        findings=found.height,
        contract_findings=int((~found.get_column("needs_confirmation")).sum()),
        needs_confirmation=int(found.get_column("needs_confirmation").sum()),
    )
    log.info("rules done: %s", outcome.as_dict())
    return outcome
