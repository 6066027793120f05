"""The data-quality gate for one source on one night: run its suites, set aside, decide.

``validate_source`` runs right after :func:`landing.ingest.ingest_source` (CLI and Airflow alike)
and before :func:`landing.ingest.combine_sources`. It writes, under ``<night>/checks/<source>/``:

- ``results.json``: every expectation's outcome (success, observed, unexpected count, sample rows);
- ``gate.json``: the batch decision (passed, failures with file, check, observed vs allowed and
  what to do, warnings).

How row failures join the quarantine: the suites validate only the rows the ingest *accepted*, so
a row the ingest already set aside can never be counted twice. A quarantine-level failure (e.g. a
date of birth more than ``max_age_years`` ago) moves the row out of the source's table into
``landing/sources/<source>/quarantine.parquet`` (file, row, column, masked value, reason, and
``check`` = ``gx:<suite>:<check>``), a row failing several checks is set aside once, and the
source's ``status.json`` counts are updated; rows read = accepted + set aside + duplicates is
asserted again afterwards (:class:`landing.ingest.ConservationError`). Re-running the gate is
idempotent: moved rows are no longer among the accepted ones.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from checks.config import ChecksConfig, load_checks
from checks.suites import Check, SuiteSpec, declare_suites
from landing.config import FileSpec, SourceSpec, load_sources
from landing.ingest import (
    APPOINTMENT_COLUMNS,
    MENTION_COLUMNS,
    PEOPLE_COLUMNS,
    QUARANTINE_SCHEMA,
    ConservationError,
    FileCount,
    SourceResult,
    read_source_status,
    source_dir,
)
from landing.mask import mask_value
from landing.postcode import normalise_postcode

log = logging.getLogger(__name__)

SAMPLE_ROWS = 20
TABLE_SCHEMAS = {"people": PEOPLE_COLUMNS, "appointments": APPOINTMENT_COLUMNS, "mentions": MENTION_COLUMNS}


@dataclass
class GateFailure:
    """One reason the gate failed (or warns): no person data, only counts, columns and row numbers."""

    file: str | None
    check: str
    observed: str
    allowed: str
    message: str


@dataclass
class GateResult:
    """The batch decision for one source on one night."""

    source: str
    extract_date: str
    status: str  # passed | failed | missing
    failures: list[GateFailure] = field(default_factory=list)
    warnings: list[GateFailure] = field(default_factory=list)
    set_aside_by_checks: int = 0
    previous_night: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the source may be used tonight."""
        return self.status == "passed"

    @property
    def excluded(self) -> bool:
        """Whether the source must be left out of tonight's run (``combine_sources(exclude=...)``).

        A missing source is not excluded here: the ingest already leaves it out and reports it as missing.
        """
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (what ``gate.json`` holds)."""
        data = asdict(self)
        data["passed"] = self.passed
        return data


def checks_dir(night_dir: Path, source: str) -> Path:
    """``<night>/checks/<source>``.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key.
    """
    return night_dir / "checks" / source


def read_gate(night_dir: Path, source: str) -> GateResult:
    """Read back a source's ``gate.json``.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key.
    """
    data = json.loads((checks_dir(night_dir, source) / "gate.json").read_text(encoding="utf-8"))
    data.pop("passed", None)
    data["failures"] = [GateFailure(**f) for f in data["failures"]]
    data["warnings"] = [GateFailure(**f) for f in data["warnings"]]
    return GateResult(**data)


def excluded_sources(night_dir: Path, sources: list[str]) -> set[str]:
    """The sources whose gate failed tonight (those without a ``gate.json`` are not excluded).

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        sources: the source keys to look at.
    """
    out = set()
    for source in sources:
        if (checks_dir(night_dir, source) / "gate.json").exists() and read_gate(night_dir, source).excluded:
            out.add(source)
    return out


def previous_status(night_dir: Path, source: str, extract_date: dt.date) -> tuple[str, SourceResult] | None:
    """The most recent earlier night in the same output folder where the source was ingested.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key.
        extract_date: tonight.
    """
    nights: list[dt.date] = []
    for child in night_dir.parent.iterdir() if night_dir.parent.is_dir() else []:
        try:
            day = dt.date.fromisoformat(child.name)
        except ValueError:
            continue
        if day < extract_date and child.is_dir():
            nights.append(day)
    for day in sorted(nights, reverse=True):
        folder = night_dir.parent / day.isoformat()
        if not (source_dir(folder, source) / "status.json").exists():
            continue
        status = read_source_status(folder, source)
        if status.status == "ok":
            return day.isoformat(), status
    return None


class _GxRunner:
    """One ephemeral GX context per source validation: pandas data source, one asset per batch."""

    def __init__(self, source: str) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.data_source = self.context.data_sources.add_pandas(name=f"{source}")
        self._n = 0

    def run(self, suite: SuiteSpec, frame: Any) -> dict[str, dict[str, Any]]:
        """Validate a pandas frame against a declared suite; results keyed by check name.

        Args:
            suite: the declared suite.
            frame: the pandas DataFrame (index = row number in the file, or file position).
        """
        gx = self._gx
        self._n += 1
        name = f"{suite.name}#{self._n}"
        asset = self.data_source.add_dataframe_asset(name=name)
        batch = asset.add_batch_definition_whole_dataframe(name="whole")
        gx_suite = self.context.suites.add(
            gx.ExpectationSuite(name=name, expectations=[check.expectation for check in suite.checks]))
        definition = self.context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch,
                                                                                       suite=gx_suite))
        result = definition.run(batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"})
        out: dict[str, dict[str, Any]] = {}
        for item in result.results:
            config = item.expectation_config
            meta = (config.meta if config is not None else None) or {}
            out[str(meta.get("check"))] = {
                "success": bool(item.success),
                "result": dict(item.result or {}),
                "error": (item.exception_info or {}).get("exception_message")
                if (item.exception_info or {}).get("raised_exception") else None,
                "type": config.type if config is not None else None,
            }
        return out


def _validation_frame(table: str, frame: pl.DataFrame, spec: FileSpec) -> Any:
    """The columns the rows suite reads, as pandas, indexed by the row number in the file."""
    non_strict = [f"{n}_invalid" for n, f in spec.fields.items() if f.parse == "date" and not f.is_strict]
    wanted = {
        "people": ["record_id", "surname", "dob", "nhs_number_raw", "nhs_status", "start_date"],
        "appointments": ["record_id", "appt_date", "outcome_raw", "owner_known"],
        "mentions": ["owner_record_id", "dob", "owner_known"],
    }[table]
    dates = {"dob", "start_date", "appt_date"}
    exprs: list[pl.Expr] = [pl.col("row")]
    for c in wanted:  # dates as YYYYMMDD integers (vectorised comparisons in GX; see checks.suites._ts)
        if c in dates:
            exprs.append((pl.col(c).dt.year().cast(pl.Int64) * 10000 + pl.col(c).dt.month().cast(pl.Int64) * 100
                          + pl.col(c).dt.day().cast(pl.Int64)).alias(c))
        elif table != "people" and frame.schema[c] == pl.String:
            # appointment / mention strings are only tested for presence and set membership: categoricals
            # convert to pandas and evaluate far faster than Python string objects
            exprs.append(pl.col(c).cast(pl.Categorical))
        else:
            exprs.append(pl.col(c))
    if table == "people":
        exprs.append(normalise_postcode(pl.col("postcode_raw").str.strip_chars()).alias("postcode_normalised"))
        exprs.append((~pl.col("flags").list.eval(pl.element().is_in(non_strict)).list.any()).alias("dates_parsed")
                     if non_strict else pl.lit(True).alias("dates_parsed"))
    return frame.select(exprs).to_pandas().set_index("row")


def _index_rows(result: dict[str, Any]) -> list[int]:
    """Row numbers (or file positions) of the unexpected values, from the frame's index."""
    rows = []
    for item in result.get("unexpected_index_list") or []:
        rows.append(int(item["row"] if isinstance(item, dict) else item))
    return rows


def _summarise(check: Check, outcome: dict[str, Any], keep_rows: bool) -> dict[str, Any]:
    result = outcome["result"]
    summary: dict[str, Any] = {
        "check": check.name, "level": check.level, "expectation": outcome["type"], "column": check.column,
        "success": outcome["success"], "allowed": check.allowed,
        "element_count": result.get("element_count"), "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": round(float(result["unexpected_percent"]), 3)
        if result.get("unexpected_percent") is not None else None,
    }
    if "observed_value" in result:
        observed = result["observed_value"]
        summary["observed"] = observed if isinstance(observed, int | float | str | list | None) else str(observed)
    elif result.get("unexpected_count") is not None:
        summary["observed"] = f"{result['unexpected_count']} of {result.get('element_count')} rows unexpected"
    if keep_rows:
        summary["sample_rows"] = _index_rows(result)[:SAMPLE_ROWS]
    if outcome["error"]:
        summary["error"] = outcome["error"]
    return summary


def _files_frame(
    status: SourceResult, checks: ChecksConfig, previous: SourceResult | None
) -> pl.DataFrame:
    band = checks.batch.row_count
    before = {c.file[: c.file.rfind("_")]: c for c in previous.files} if previous else {}
    rows = []
    for count in status.files:
        prior = before.get(count.file[: count.file.rfind("_")])
        ok = count.status == "ok"
        comparable = ok and prior is not None and prior.status == "ok" and prior.rows_read >= band.min_previous_rows
        rows.append({
            "file": count.file, "table": count.table, "status": count.status, "rows_read": count.rows_read,
            "quarantined": count.quarantined,
            "quarantined_share": count.quarantined / count.rows_read if ok and count.rows_read else None,
            "min_rows": getattr(checks.batch.min_rows, count.table) if ok else None,
            "previous_rows": prior.rows_read if prior is not None and prior.status == "ok" else None,
            "row_ratio": count.rows_read / prior.rows_read if comparable and prior is not None else None,
        })
    return pl.DataFrame(rows, schema={
        "file": pl.String, "table": pl.String, "status": pl.String, "rows_read": pl.Int64,
        "quarantined": pl.Int64, "quarantined_share": pl.Float64, "min_rows": pl.Int64,
        "previous_rows": pl.Int64, "row_ratio": pl.Float64,
    })


def _batch_failure(check: str, file_row: dict[str, Any], count: FileCount, label: str,
                   previous_night: str | None, checks: ChecksConfig) -> GateFailure:
    file = str(file_row["file"])
    if check == "file_readable":
        if count.status == "missing":
            return GateFailure(file, check, "missing", "present",
                               f"{file}: {count.message or 'not in the drop'}; ask the {label} system to re-export "
                               "it, then rerun this night")
        return GateFailure(file, check, count.status, "ok",
                           f"{count.message or file + ': unreadable'}; fix the export (or config/sources.yaml) "
                           "and rerun this night")
    if check == "quarantined_share":
        share = float(file_row["quarantined_share"])
        limit = checks.batch.max_quarantined_share
        return GateFailure(file, check, f"{count.quarantined} of {count.rows_read} rows set aside ({share:.1%})",
                           f"at most {limit:.0%}",
                           f"{file}: {share:.1%} of rows set aside, above {limit:.0%}: see checks/quarantine.csv "
                           "for the reasons and fix the export, or raise batch.max_quarantined_share in "
                           "config/checks.yaml")
    if check == "min_rows":
        return GateFailure(file, check, f"{count.rows_read} rows", f"at least {file_row['min_rows']}",
                           f"{file}: {count.rows_read} data rows (header only?): the export probably failed; "
                           "check the source system and rerun")
    band = checks.batch.row_count
    ratio = float(file_row["row_ratio"])
    return GateFailure(file, check, f"{count.rows_read} rows against {file_row['previous_rows']} on {previous_night} "
                       f"({ratio - 1:+.0%})",
                       f"{1 - band.max_drop:.0%}-{1 + band.max_rise:.0%} of the previous night",
                       f"{file}: row count alarm, {count.rows_read} rows tonight against {file_row['previous_rows']} "
                       f"on {previous_night} ({ratio - 1:+.0%}): a partial or duplicated export? confirm with the "
                       "source before using it; the band is batch.row_count in config/checks.yaml")


def _set_aside(
    folder: Path, status: SourceResult, moves: dict[str, dict[int, tuple[str, Check, str]]],
    frames: dict[str, pl.DataFrame], specs: dict[str, FileSpec],
) -> int:
    """Move quarantine-level failures from the source's tables into its quarantine; return rows moved."""
    total = sum(len(v) for v in moves.values())
    if not total:
        return 0
    quarantine = pl.read_parquet(folder / "quarantine.parquet")
    new_rows = []
    for file, rows in moves.items():
        spec = specs[file]
        table = frames[spec.table]
        mine = table.filter(pl.col("file") == file)
        for row, (suite, check, field_name) in sorted(rows.items()):
            values = mine.filter(pl.col("row") == row).get_column(field_name).to_list() if field_name else [None]
            raw = None if not values or values[0] is None else str(values[0])
            new_rows.append({"source": status.source, "file": file, "row": row, "column": check.column,
                             "value": mask_value(check.column, raw), "reason": check.reason,
                             "check": f"gx:{suite}:{check.name}"})
        drop = pl.DataFrame({"file": [file] * len(rows), "row": list(rows)},
                            schema={"file": pl.String, "row": pl.Int64})
        frames[spec.table] = table.join(drop, on=["file", "row"], how="anti")
        count = next(c for c in status.files if c.file == file)
        count.accepted -= len(rows)
        count.quarantined += len(rows)
        if not count.conserved():
            raise ConservationError(
                f"{file}: after the gate, rows read {count.rows_read} != accepted {count.accepted} + "
                f"set aside {count.quarantined} + duplicates {count.duplicates}")
    if "people" in frames and any(specs[f].table == "people" for f in moves):
        people = frames["people"].get_column("record_id")
        if "appointments" in frames:
            frames["appointments"] = frames["appointments"].with_columns(
                pl.col("record_id").is_in(people.implode()).alias("owner_known"))
        if "mentions" in frames:
            frames["mentions"] = frames["mentions"].with_columns(
                pl.col("owner_record_id").is_in(people.implode()).alias("owner_known"))
    for table_name, frame in frames.items():
        frame.write_parquet(folder / f"{table_name}.parquet")
    pl.concat([quarantine, pl.DataFrame(new_rows, schema=QUARANTINE_SCHEMA)]).write_parquet(
        folder / "quarantine.parquet")
    status.people = frames["people"].height if "people" in frames else 0
    status.appointments = frames["appointments"].height if "appointments" in frames else 0
    status.mentions = frames["mentions"].height if "mentions" in frames else 0
    status.quarantined += total
    (folder / "status.json").write_text(json.dumps(asdict(status), indent=2), encoding="utf-8")
    return total


def validate_source(night_dir: Path, source: str, config_dir: Path, extract_date: dt.date) -> GateResult:
    """Run one source's expectation suites on what the ingest wrote tonight, and decide the gate.

    Call right after :func:`landing.ingest.ingest_source` for the same source and night. Writes
    ``<night>/checks/<source>/results.json`` and ``gate.json``; moves quarantine-level row failures
    into ``landing/sources/<source>/quarantine.parquet`` (see the module docstring).

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key (as in ``config/sources.yaml``).
        config_dir: the folder holding ``sources.yaml`` and ``checks.yaml``.
        extract_date: the night.

    Raises:
        FileNotFoundError: the source has not been ingested for this night.
        ConservationError: rows did not add up after setting rows aside (a bug if raised).
    """
    started = time.perf_counter()
    sources = load_sources(config_dir / "sources.yaml")
    checks = load_checks(config_dir / "checks.yaml")
    spec: SourceSpec = sources.sources[source]
    folder = source_dir(night_dir, source)
    if not (folder / "status.json").exists():
        raise FileNotFoundError(f"{source}: no ingest output for {extract_date.isoformat()} under {night_dir}; "
                                "run ingest_source first")
    status = read_source_status(night_dir, source)
    out = checks_dir(night_dir, source)
    out.mkdir(parents=True, exist_ok=True)
    gate = GateResult(source=source, extract_date=extract_date.isoformat(), status="passed")
    results: dict[str, Any] = {"source": source, "label": spec.label, "extract_date": extract_date.isoformat(),
                               "ingest_status": status.status, "suites": []}
    if status.status == "missing":
        gate.status = "missing"
        gate.failures.append(GateFailure(None, "source_missing", "no files", "a people file",
                                         f"{source}: no {spec.people_file.name} file tonight "
                                         f"({status.files[0].message if status.files else 'not in the drop'}); "
                                         "its people are kept as they were, not treated as gone; ask the "
                                         f"{spec.label} system to re-export"))
        _write(out, results, gate, started)
        return gate

    runner = _GxRunner(source)
    suites = declare_suites(source, spec, checks, extract_date, sources.allow_test_range_nhs_numbers)
    specs = {f.file_name(extract_date.strftime("%Y%m%d")): f for f in spec.files}
    counts = {c.file: c for c in status.files}
    frames = {t: pl.read_parquet(folder / f"{t}.parquet") for t in TABLE_SCHEMAS if (folder / f"{t}.parquet").exists()}
    moves: dict[str, dict[int, tuple[str, Check, str]]] = {}
    for file, (rows_suite, layout_suite) in ((k, v) for k, v in suites.items() if k != "files"):
        count = counts.get(file)
        if count is None:
            continue
        for warning in count.warnings:
            gate.warnings.append(GateFailure(file, "ingest", warning, "", f"{file}: {warning}"))
        if count.columns:
            import pandas as pd

            outcome = runner.run(layout_suite, pd.DataFrame(columns=count.columns))
            results["suites"].append(_suite_summary(layout_suite, file, 0, outcome, gate, keep_rows=False))
        if count.status != "ok" or specs[file].table not in frames:
            continue
        fspec = specs[file]
        table = frames[fspec.table].filter(pl.col("file") == file)
        outcome = runner.run(rows_suite, _validation_frame(fspec.table, table, fspec))
        results["suites"].append(_suite_summary(rows_suite, file, table.height, outcome, gate, keep_rows=True))
        movable = fspec.table != "people" or fspec.one_row_per_record
        for check in rows_suite.checks:
            if check.level != "quarantine" or outcome[check.name]["success"]:
                continue
            rows = _index_rows(outcome[check.name]["result"])
            field_name = str(getattr(check.expectation, "column", "") or "")
            if check.name == "identifier_unique":
                # keep the first record with each identifier, as the ingest does
                dupes = table.filter(pl.col("row").is_in(rows)).sort("row")
                rows = dupes.filter(~pl.col("record_id").is_first_distinct()).get_column("row").to_list()
            if not movable:
                gate.failures.append(GateFailure(file, check.name, f"{len(rows)} records", check.allowed,
                                                 f"{file}: {len(rows)} aggregated records fail {check.name}; "
                                                 "they cannot be set aside row by row: fix the export"))
                continue
            for row in rows:
                moves.setdefault(file, {}).setdefault(row, (rows_suite.name, check, field_name))
    gate.set_aside_by_checks = _set_aside(folder, status, moves, frames, specs)

    prior = previous_status(night_dir, source, extract_date)
    gate.previous_night = prior[0] if prior else None
    files_frame = _files_frame(status, checks, prior[1] if prior else None)
    files_suite: SuiteSpec = suites["files"]
    outcome = runner.run(files_suite, files_frame.to_pandas())
    results["previous_night"] = gate.previous_night
    results["files"] = files_frame.to_dicts()
    results["suites"].append(_suite_summary(files_suite, None, files_frame.height, outcome, gate, keep_rows=False))
    for check in files_suite.checks:
        for position in _index_rows(outcome[check.name]["result"]):
            file_row = files_frame.row(position, named=True)
            gate.failures.append(_batch_failure(check.name, file_row, counts[file_row["file"]], spec.label,
                                                gate.previous_night, checks))
    if checks.batch.flags_fail_gate:
        gate.failures.extend(w for w in gate.warnings if w.check != "ingest")
    if gate.failures:
        gate.status = "failed"
    _write(out, results, gate, started)
    log.info("gate %s: %s (%d failures, %d warnings, %d rows set aside by checks)", source, gate.status,
             len(gate.failures), len(gate.warnings), gate.set_aside_by_checks)
    return gate


def _suite_summary(suite: SuiteSpec, file: str | None, rows: int, outcome: dict[str, dict[str, Any]],
                   gate: GateResult, keep_rows: bool) -> dict[str, Any]:
    expectations = []
    for check in suite.checks:
        summary = _summarise(check, outcome[check.name], keep_rows)
        expectations.append(summary)
        if summary["success"]:
            continue
        where = file or suite.name
        if check.level == "flag":
            gate.warnings.append(GateFailure(file, check.name, str(summary.get("observed")), check.allowed,
                                             f"{where}: {check.name} ({check.column or 'table'}): "
                                             f"{summary.get('observed')}; allowed: {check.allowed}; rows kept "
                                             "and flagged (see checks/validation.html for sample rows)"))
        elif check.level == "batch" and suite.batch == "layout":
            gate.failures.append(GateFailure(file, "missing_column", f"{check.column!r} not in the header",
                                             check.allowed, f"{where}: required column {check.column!r} is missing "
                                             "from the header: the export layout changed; fix the export or "
                                             "config/sources.yaml"))
    return {"suite": suite.name, "batch": suite.batch, "file": file, "rows": rows,
            "success": all(e["success"] for e in expectations), "expectations": expectations}


def _write(out: Path, results: dict[str, Any], gate: GateResult, started: float) -> None:
    gate.seconds = round(time.perf_counter() - started, 3)
    results["gate"] = {"status": gate.status, "passed": gate.passed, "seconds": gate.seconds}
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (out / "gate.json").write_text(json.dumps(gate.to_dict(), indent=2, default=str), encoding="utf-8")
