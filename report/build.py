"""``build_report``: the night's self-contained ``report.html``, the review file and the nightly metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, delete, insert, inspect, select, text
from sqlalchemy.orm import Session

from ground import outputs
from ground.errors import OperatorError
from ground.exit_codes import EXIT_FAILED
from ground.layout import NightLayout
from ground.logs import log_fields
from ground.state import open_state
from linkage.review_decisions import OVERRIDE_OF, latest_decisions
from report import charts, sections
from report.inputs import NightFiles, expected_sources, read_csv, read_parquet, sibling_nights
from report.review import export_review
from report.state_tables import ReportNightlyMetrics

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
TREND_NIGHTS = 30


@dataclass
class ReportResult:
    """What ``build_report`` wrote (counts only: safe for logs and XCom)."""

    report: Path
    review_file: Path | None
    sources_present: int = 0
    sources_missing: list[str] = field(default_factory=list)
    sources_failed: list[str] = field(default_factory=list)
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    records: int = 0
    persons: int = 0
    links: int = 0
    review_pairs: int = 0
    findings: int = 0
    findings_new: int = 0
    findings_updated: int = 0
    findings_closed: int = 0
    decisions: int = 0
    overrides: int = 0
    overrides_applied: int | None = None
    trend_nights: int = 0
    precision: float | None = None
    recall: float | None = None
    unavailable: list[str] = field(default_factory=list)
    failed_sections: list[str] = field(default_factory=list)
    complete_drop: bool | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (paths as strings)."""
        out = dict(self.__dict__)
        out["report"] = str(self.report)
        out["review_file"] = str(self.review_file) if self.review_file else None
        return out


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v: "–" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"
    env.filters["pct"] = lambda v: "–" if v is None else f"{100.0 * v:.1f}%"
    env.filters["f2"] = lambda v: "–" if v is None else f"{float(v):.2f}"
    env.filters["prob"] = lambda v: "–" if v is None else (f"{float(v):.2e}" if 0 < float(v) < 1e-3
                                                           else f"{float(v):.4f}")
    env.filters["f4"] = lambda v: "–" if v is None else f"{float(v):.4f}"
    return env


class ReportSectionsFailed(OperatorError):
    """Sections of the report failed: ``report.html`` was written without them and names them at the top.

    The report stage then fails (non-zero exit; in Airflow the task fails and the failure mail fires) so
    that a partial report is never taken for a whole one.

    Args:
        failed: each failed section's name and its exception type (no values, so no person data).
        report: the report written without them.
    """

    def __init__(self, failed: dict[str, str], report: Path) -> None:
        named = ", ".join(f"{name} ({kind})" for name, kind in failed.items())
        super().__init__(f"report: section(s) failed: {named}; {report.name} was written without them and names them "
                         "at the top, and the night is not marked complete: fix the cause (redacted traceback in the "
                         "log) and run the night again", EXIT_FAILED)
        self.failed = failed


@dataclass
class _Sections:
    """Runs each section; a failure is logged, listed, and the section shown as not available."""

    unavailable: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    first_error: Exception | None = None  # chained to the stage's error, so a task log shows its traceback

    def run(self, name: str, call: Callable[[], Any], default: Any) -> Any:
        try:
            return call()
        except Exception as exc:
            log.warning("report section failed", extra={"section": name, "error": type(exc).__name__})
            log.debug("report section %s failed", name, exc_info=True)  # the traceback: debug log only
            self.unavailable.append(f"{name} (error)")
            self.failed[name] = type(exc).__name__
            self.first_error = self.first_error or exc
            return default


def _drop_notes(night: NightFiles, dq: dict[str, Any]) -> dict[str, Any]:
    """What the top of the report says about the drop: complete or not, sources missing or failed."""
    drop = night.drop or {}
    complete = drop.get("complete_drop")
    return {"complete": None if complete is None else bool(complete),
            "missing": sorted(set(dq.get("missing") or []) | set(drop.get("sources_missing") or [])),
            "failed": sorted(set(dq.get("failed") or []) | set(drop.get("sources_failed") or []))}


def _id_events(engine: Engine, extract_date: date) -> dict[str, int] | None:
    """Merges and splits recorded by the linkage engine tonight (``linkage_person_event``), if any."""
    if not inspect(engine).has_table("linkage_person_event"):
        return None
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, COUNT(*) FROM linkage_person_event WHERE extract_date = :d GROUP BY kind"),
            {"d": extract_date},
        ).all()
        if not rows:
            return None
    counts = {str(k): int(n) for k, n in rows}
    return {"merges": counts.get("merge", 0), "splits": counts.get("split", 0)}


def _responses(engine: Engine, extract_date: date) -> pl.DataFrame | None:
    """Responses to findings recorded up to the end of the night (``alerts_response``, from the case view)."""
    if not inspect(engine).has_table("alerts_response"):
        return None
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, finding_id, rule, link_confidence, disposition FROM alerts_response WHERE night <= :d"),
            {"d": extract_date},
        ).all()
    schema = {"id": pl.Int64, "finding_id": pl.String, "rule": pl.String, "link_confidence": pl.Float64,
              "disposition": pl.String}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _record_metrics(engine: Engine, metrics: dict[str, Any]) -> None:
    with Session(engine) as session, session.begin():
        session.execute(delete(ReportNightlyMetrics).where(
            ReportNightlyMetrics.extract_date == metrics["extract_date"]))
        session.execute(insert(ReportNightlyMetrics).values(computed_at=datetime.now(UTC), **metrics))


def _trend_rows(engine: Engine, night_dir: Path, extract_date: date, sources: list[str]) -> list[dict[str, Any]]:
    """The last nights' metrics: the state table, completed from sibling folders it does not hold."""
    cols = [c.name for c in ReportNightlyMetrics.__table__.columns if c.name != "computed_at"]
    with Session(engine) as session:
        stored = session.scalars(
            select(ReportNightlyMetrics).where(ReportNightlyMetrics.extract_date <= extract_date)
            .order_by(ReportNightlyMetrics.extract_date.desc()).limit(TREND_NIGHTS)
        ).all()
        rows = {r.extract_date: {c: getattr(r, c) for c in cols} for r in stored}
    for d, folder in sibling_nights(night_dir, extract_date)[-TREND_NIGHTS:]:
        if d in rows:
            continue
        past = NightFiles.load(folder, people=False)
        rows[d] = sections.night_metrics(
            d, sections.data_quality(past, sources), sections.linkage_summary(past, sources),
            sections.findings_summary(past.findings, None), {"available": False})
    return [rows[d] for d in sorted(rows)[-TREND_NIGHTS:]]


def _trend_charts(trend: list[dict[str, Any]]) -> list[str]:
    if len(trend) < 2:
        return []
    dates = [r["extract_date"].isoformat() for r in trend]
    rules = sorted({k for r in trend for k in (r.get("findings_by_rule") or {})})
    out = [
        charts.trend_chart(dates, {"rows read": [r["rows_read"] for r in trend],
                                   "records": [r["records"] for r in trend]}, "rows", "rows read per night"),
        charts.trend_chart(dates, {"link rate": [r["link_rate"] for r in trend]}, "share of records linked",
                           "link rate per night"),
        charts.trend_chart(dates, {"review queue": [r["review_pairs"] for r in trend]}, "pairs",
                           "review queue per night"),
    ]
    if rules:
        out.append(charts.trend_chart(
            dates, {rule: [(r.get("findings_by_rule") or {}).get(rule, 0) for r in trend] for rule in rules},
            "open findings", "findings per rule per night"))
    return out


def build_report(
    night_dir: Path,
    config_dir: Path,
    state_url: str,
    extract_date: date,
    truth_dir: Path | None = None,
) -> ReportResult:
    """Write ``night_dir/report.html`` and ``night_dir/review/review_pairs.csv``; record tonight's metrics.

    Every input is optional: a section whose files are missing says it is not available tonight. A
    section that fails is left out, the page names it at the top, and then the call raises.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        config_dir: the configuration folder (``sources.yaml``, ``linkage.yaml``, ``linkage_model.json``).
        state_url: the state database URL.
        extract_date: the night.
        truth_dir: optional ground truth (``persons.csv``, ``findings.csv``) for measured precision and recall.

    Raises:
        ReportSectionsFailed: a section failed (after ``report.html`` was written, saying which).
    """
    night_dir, config_dir = Path(night_dir), Path(config_dir)
    # Dates are normalised at the boundary: Airflow hands a pendulum Date, which SQLite cannot bind.
    extract_date = date(extract_date.year, extract_date.month, extract_date.day)
    night_dir.mkdir(parents=True, exist_ok=True)
    night = NightFiles.load(night_dir)
    sources = expected_sources(config_dir)
    prev_records, prev_findings = _previous_night(night_dir, extract_date)
    done = _Sections()
    guarded, na = done.run, {"available": False}
    dq: dict[str, Any] = guarded("data quality", lambda: sections.data_quality(night, sources), na)
    lk: dict[str, Any] = guarded("linkage", lambda: sections.linkage_summary(night, sources), {})
    model: dict[str, Any] | None = guarded("model", lambda: sections.load_model(config_dir, night_dir), None)
    ex: dict[str, Any] = guarded("explanations", lambda: sections.explanations(night.pairs), na)
    fs: dict[str, Any] = guarded("findings", lambda: sections.findings_summary(night.findings, prev_findings), na)
    acc: dict[str, Any] = guarded("accuracy", lambda: sections.accuracy(night.records, night.findings, truth_dir), na)

    engine = open_state(state_url)
    try:
        decisions: pl.DataFrame | None = guarded("review decisions", lambda: latest_decisions(engine=engine), None)
        review_file, n_review_file = guarded(
            "review file", lambda: _export_review(night_dir, night, extract_date, decisions), (None, 0))
        overrides = _overrides(decisions)
        applied: dict[str, Any] = guarded(
            "overrides", lambda: sections.overrides_applied(overrides, night.pairs, night.records),
            {"applied": None, "pending": None})
        review = _review_summary(decisions, overrides, applied, n_review_file, review_file is not None)
        threshold = float(model["link_threshold"]) if model else 0.9
        answered: dict[str, Any] = guarded(
            "responses", lambda: sections.response_precision(_responses(engine, extract_date), threshold), na)
        events = guarded("id events", lambda: _id_events(engine, extract_date), None)
        if events is None:
            events = guarded("id changes", lambda: sections.id_changes(night.records, prev_records), None)
        lk["id_changes"] = events
        metrics = sections.night_metrics(extract_date, dq, lk, fs, acc)
        _record_metrics(engine, metrics)
        trend: list[dict[str, Any]] = guarded(
            "trends", lambda: _trend_rows(engine, night_dir, extract_date, sources), [])
    finally:
        engine.dispose()

    figures = _figures(lk, model, trend, guarded)
    done.unavailable += _missing_sections(dq, lk, model, fs)
    drop = _drop_notes(night, dq)
    report = NightLayout(night_dir).report
    outputs.write_text(report, _render(
        extract_date, dq=dq, lk=lk, model=model, ex=ex, fs=fs, acc=acc, review=review, trend=trend,
        figures=figures, answered=answered, unavailable=done.unavailable, failed_sections=list(done.failed),
        drop=drop))
    result = _result(report, review_file, dq, lk, fs, acc, review, trend, done.unavailable)
    result.failed_sections, result.complete_drop = list(done.failed), drop["complete"]
    log.info("report written", extra={"extract_date": extract_date.isoformat(), **log_fields(
        {k: v for k, v in result.summary().items() if k not in ("report", "review_file")})})
    if done.failed:
        raise ReportSectionsFailed(done.failed, report) from done.first_error
    return result


def _render(extract_date: date, **parts: Any) -> str:
    """The page: every section's figures, what is missing, the drop's state at the top."""
    return _env().get_template("report.html.j2").render(
        extract_date=extract_date.isoformat(), generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), **parts)


def _result(report: Path, review_file: Path | None, dq: dict[str, Any], lk: dict[str, Any], fs: dict[str, Any],
            acc: dict[str, Any], review: dict[str, Any], trend: list[dict[str, Any]],
            unavailable: list[str]) -> ReportResult:
    """The counts of the report's sections (no person data)."""
    totals: dict[str, int] = dq.get("totals", {})
    link_acc: dict[str, Any] = acc.get("linkage", {}) if acc.get("available") else {}
    return ReportResult(
        report=report, review_file=review_file,
        sources_present=dq.get("sources_present", 0), sources_missing=dq.get("missing", []),
        sources_failed=dq.get("failed", []),
        rows_read=totals.get("rows_read", 0), accepted=totals.get("accepted", 0),
        quarantined=totals.get("quarantined", 0), duplicates=totals.get("duplicates", 0),
        records=lk.get("records", 0), persons=lk.get("persons", 0), links=lk.get("links", 0),
        review_pairs=lk.get("review_pairs", 0),
        findings=fs.get("total", 0) if fs.get("available") else 0,
        findings_new=fs.get("new", 0) if fs.get("available") else 0,
        findings_updated=fs.get("updated", 0) if fs.get("available") else 0,
        findings_closed=fs.get("closed", 0) if fs.get("available") else 0,
        decisions=review["decisions_total"], overrides=review["overrides"], overrides_applied=review["applied"],
        trend_nights=len(trend), precision=link_acc.get("precision"), recall=link_acc.get("recall"),
        unavailable=unavailable,
    )


def _export_review(night_dir: Path, night: NightFiles, extract_date: date,
                   decisions: pl.DataFrame | None) -> tuple[Path | None, int]:
    """Write tonight's review file (with each pair's latest decision); nothing when there are no pairs."""
    if night.pairs is None:
        return None, 0
    previous = {} if decisions is None else dict(decisions.select("pair_key", "decision").iter_rows())
    return export_review(night_dir, night.pairs, night.people, extract_date, previous)


def _missing_sections(dq: dict[str, Any], lk: dict[str, Any], model: dict[str, Any] | None,
                      fs: dict[str, Any]) -> list[str]:
    """The sections with nothing to show tonight."""
    shown = (("data quality", dq.get("available")), ("linkage records", lk.get("records_available")),
             ("linkage pairs", lk.get("pairs_available")), ("linkage model", model is not None),
             ("findings", fs.get("available")))
    return [name for name, ok in shown if not ok]


def _previous_night(night_dir: Path, extract_date: date) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """The latest earlier night's linked records and findings (None where there is none)."""
    earlier = sibling_nights(night_dir, extract_date)
    if not earlier:
        return None, None
    prev = NightLayout(earlier[-1][1])
    findings = read_parquet(prev.findings)
    if findings is None:
        findings = read_csv(prev.findings_csv)
    return read_parquet(prev.linked_records), findings


def _overrides(decisions: pl.DataFrame | None) -> pl.DataFrame:
    """The reviewers' standing force_link / force_split instructions."""
    if decisions is None:
        return pl.DataFrame(schema={"source_l": pl.String, "record_id_l": pl.String, "source_r": pl.String,
                                    "record_id_r": pl.String, "decision": pl.String})
    return (decisions.filter(pl.col("decision").is_in(list(OVERRIDE_OF)))
            .with_columns(pl.col("decision").replace_strict(OVERRIDE_OF, return_dtype=pl.String))
            .select("source_l", "record_id_l", "source_r", "record_id_r", "decision"))


def _review_summary(decisions: pl.DataFrame | None, overrides: pl.DataFrame, applied: dict[str, Any],
                    file_rows: int, file_written: bool) -> dict[str, Any]:
    """The clerical review section: decisions, overrides and whether they were applied."""
    return {
        "available": decisions is not None,
        "pairs_decided": 0 if decisions is None else decisions.height,
        "decisions_total": 0 if decisions is None else int(decisions["history"].sum() or 0),
        "latest": {} if decisions is None else dict(
            decisions.group_by("decision").agg(pl.len()).sort("decision").iter_rows()),
        "overrides": overrides.height,
        "force_link": overrides.filter(pl.col("decision") == "force_link").height,
        "force_split": overrides.filter(pl.col("decision") == "force_split").height,
        "applied": applied.get("applied"), "pending": applied.get("pending"),
        "bands": [] if decisions is None else sections.review_bands(decisions),
        "file_rows": file_rows, "file": file_written,
    }


def _figures(lk: dict[str, Any], model: dict[str, Any] | None, trend: list[dict[str, Any]],
             guarded: Callable[[str, Callable[[], Any], Any], Any]) -> dict[str, Any]:
    """The report's SVG charts (each one guarded: a failed chart is listed as unavailable)."""
    figures: dict[str, Any] = {}
    if lk.get("weights"):
        link_w = sections.prob_to_weight(model["link_threshold"]) if model else None
        review_w = sections.prob_to_weight(model["review_threshold"]) if model else None
        figures["weights"] = guarded("weight histogram",
                                      lambda: charts.weight_histogram(lk["weights"], link_w, review_w), None)
    if lk.get("cluster_sizes"):
        figures["clusters"] = guarded("cluster chart", lambda: charts.bar_chart(
            [r["n"] for r in lk["cluster_sizes"]], [r["persons"] for r in lk["cluster_sizes"]],
            "records per person", "persons", "cluster size distribution",
            log=max(r["persons"] for r in lk["cluster_sizes"]) > 100), None)
    figures["trends"] = guarded("trend charts", lambda: _trend_charts(trend), [])
    return figures
