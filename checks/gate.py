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
from typing import TYPE_CHECKING, Any

import polars as pl

from checks.config import ChecksConfig, load_checks
from ground import outputs
from ground.sources import FileSpec, SourceSpec, load_sources
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

if TYPE_CHECKING:  # Great Expectations is imported only when a source is validated (see _runner)
    from checks.memo import Runner
    from checks.suites import Check, SuiteSpec

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
    """The most recent earlier complete night in the same output folder where the source was ingested.

    A night without its completion marker (a run that did not finish) is never the comparison.

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
        if day < extract_date and child.is_dir() and outputs.night_complete(child):
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
    """GX for the whole process: one ephemeral context, one pandas data source, one dataframe asset.

    Built once per process (:func:`_runner`; about 4 s of GX import and context set-up that every
    source of an Airflow task or CLI run shares). Each batch is validated through GX's V1
    ``Validator`` on the asset's whole-dataframe batch definition, with the dataframe as a batch
    parameter: nothing is added to the context's stores (suites, validation definitions and results
    are not kept or serialised; ``results.json`` holds what the gate needs).
    """

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.validator.v1_validator import Validator

        import checks.expectations  # noqa: F401  (registers the custom NHS number expectation)

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        self._gx = gx
        self._validator = Validator
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        data_source = self.context.data_sources.add_pandas(name="gate")
        self.batch_definition = data_source.add_dataframe_asset(name="frame").add_batch_definition_whole_dataframe(
            name="whole")

    def run(self, suite: SuiteSpec, frame: Any) -> dict[str, dict[str, Any]]:
        """Validate a pandas frame against a declared suite; results keyed by check name.

        Args:
            suite: the declared suite.
            frame: the pandas DataFrame (index = row number in the file, or file position).
        """
        gx_suite = self._gx.ExpectationSuite(name=suite.name,
                                             expectations=[check.expectation.build() for check in suite.checks])
        validator = self._validator(batch_definition=self.batch_definition, batch_parameters={"dataframe": frame},
                                    result_format=RESULT_FORMAT)
        result = validator.validate_expectation_suite(gx_suite)
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


_RUNNER: _GxRunner | None = None
# every unexpected row number (quarantine needs them all); not GX's pandas "query", which is the same
# list again as one string
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


def _runner() -> _GxRunner:
    """The process's GX runner, built on first use."""
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = _GxRunner()
    return _RUNNER


DATE_COLUMNS = {"dob", "start_date", "appt_date"}
NOT_NULL = "expect_column_values_to_not_be_null"


def _suite_columns(suite: SuiteSpec) -> dict[str, set[str]]:
    """Column → the GX expectation types reading it, in declaration order of first use."""
    used: dict[str, set[str]] = {}
    for check in suite.checks:
        column = getattr(check.expectation, "column", None)
        if column:
            used.setdefault(str(column), set()).add(str(check.expectation.expectation_type))
    return used


def _column_exprs(suite: SuiteSpec, table: str, spec: FileSpec) -> list[pl.Expr]:
    """The columns a rows suite reads, as polars expressions, and nothing else.

    Dates become ``YYYYMMDD`` integers (GX's between-check maps datetimes row by row in Python; see
    :func:`checks.suites._ts`). A column read only by a not-null expectation (a surname, an appointment's
    person identifier) is handed over as presence alone (1 or null): GX counts exactly the same nulls, and
    no value has to be converted to a Python string.
    """
    exprs: list[pl.Expr] = []
    for c, types in _suite_columns(suite).items():
        if c == "postcode_normalised":
            exprs.append(normalise_postcode(pl.col("postcode_raw").str.strip_chars()).alias(c))
        elif c == "dates_parsed":
            non_strict = [f"{n}_invalid" for n, f in spec.fields.items() if f.parse == "date" and not f.is_strict]
            exprs.append((~pl.col("flags").list.eval(pl.element().is_in(non_strict)).list.any()).alias(c)
                         if non_strict else pl.lit(True).alias(c))
        elif types == {NOT_NULL}:
            exprs.append(pl.when(pl.col(c).is_null()).then(None).otherwise(pl.lit(1, pl.Int8)).alias(c))
        elif c in DATE_COLUMNS:
            exprs.append((pl.col(c).dt.year().cast(pl.Int64) * 10000 + pl.col(c).dt.month().cast(pl.Int64) * 100
                          + pl.col(c).dt.day().cast(pl.Int64)).alias(c))
        else:
            exprs.append(pl.col(c))
    return exprs


def _validation_frame(suite: SuiteSpec, table: str, frame: pl.DataFrame, spec: FileSpec) -> Any:
    """The columns the rows suite reads, as pandas, indexed by the row number in the file."""
    selected = frame.select(pl.col("row"), *_column_exprs(suite, table, spec))
    strings = [c for c, dtype in selected.schema.items() if dtype == pl.String]
    out = selected.drop(strings).to_pandas()
    for c in strings:  # Arrow-backed strings: no Python object per value, nulls found without a scan
        out[c] = selected.get_column(c).to_pandas(use_pyarrow_extension_array=True)
    # one block per dtype: GX filters the frame once per metric, and pandas would otherwise merge the
    # blocks again on every filtered copy
    return out.set_index("row")[[c for c in selected.columns if c != "row"]].copy()


def groupable(suite: SuiteSpec) -> bool:
    """Whether every expectation of a suite is about single values, so distinct values with counts suffice.

    True for the appointment and mention suites (presence, value sets, date ranges, known owner); false
    as soon as one expectation is about rows (uniqueness, as on people files).
    """
    return all(getattr(check.expectation, "column", None) and "unique" not in check.expectation.expectation_type
               and hasattr(check.expectation, "mostly") for check in suite.checks)


def _run_grouped(runner: Runner, suite: SuiteSpec, table: str, frame: pl.DataFrame,
                 spec: FileSpec) -> dict[str, dict[str, Any]]:
    """Validate a file's rows as its distinct value combinations, then count the results in rows.

    The frame GX sees has one row per distinct combination of the values the suite reads (e.g. 1.34 M gp
    appointments are about 3 700 combinations of presence, date, outcome and known owner). GX decides for
    each combination which expectations it breaks; every figure is then counted in rows, exactly as GX
    counts them on the full frame: ``element_count`` is the rows, nulls are the rows with a null value
    (not-null expectations count them as unexpected, the others leave them out), ``unexpected_count`` is
    the rows of the unexpected combinations, success is GX's ``mostly`` rule on those row counts, and
    ``unexpected_index_list`` holds the row numbers in the file (every one: quarantine-level failures
    move them). ``tests/test_checks.py`` asserts that this equals a row-by-row run.
    """
    exprs = _column_exprs(suite, table, spec)
    combos = (frame.select(pl.col("row"), *exprs)
              .group_by([e.meta.output_name() for e in exprs], maintain_order=True)
              .agg(pl.col("row").sort().alias("rows"), pl.len().alias("n")))
    counts = combos.get_column("n").to_numpy()
    total = int(counts.sum())
    outcome = runner.run(suite, combos.drop("rows", "n").to_pandas())
    for check in suite.checks:
        column = str(getattr(check.expectation, "column", ""))
        item = outcome[check.name]
        if item["error"]:
            continue
        positions = [int(p) for p in item["result"].get("unexpected_index_list") or []]
        unexpected = int(counts[positions].sum()) if positions else 0
        rows = (combos[positions].get_column("rows").explode().sort().to_list() if positions else [])
        mostly = float(getattr(check.expectation, "mostly", 1) or 1)
        result: dict[str, Any] = {"element_count": total, "unexpected_count": unexpected,
                                  "unexpected_index_list": rows}
        if check.expectation.expectation_type == NOT_NULL:
            result["unexpected_percent"] = unexpected / total * 100 if total else None
            success = True if not total else (total - unexpected) / total >= mostly
        else:
            missing = int(counts[combos.get_column(column).is_null().to_numpy()].sum())
            nonnull = total - missing
            result.update({
                "missing_count": missing, "missing_percent": missing / total * 100 if total else None,
                "unexpected_percent_total": unexpected / total * 100 if total else None,
                "unexpected_percent": unexpected / nonnull * 100 if nonnull else None,
            })
            result["unexpected_percent_nonmissing"] = result["unexpected_percent"]
            success = True if not nonnull else (nonnull - unexpected) / nonnull >= mostly
        item["success"] = success
        item["result"] = result
    return outcome


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


def _header(count: FileCount, spec: FileSpec | None) -> tuple[list[str], list[str]]:
    """The required columns missing from a file's header, and the header's differences from the layout
    (columns not configured, configured columns absent); both empty when no header was read."""
    if not count.columns or spec is None:
        return [], []
    header = set(count.columns)
    layout = list(dict.fromkeys([*spec.columns, *spec.other_columns]))
    missing = [c for c in spec.columns if c not in header]
    differences = [c for c in count.columns if c not in layout] + [c for c in layout if c not in header]
    return missing, list(dict.fromkeys(differences))


def _files_frame(
    status: SourceResult, checks: ChecksConfig, previous: SourceResult | None, specs: dict[str, FileSpec]
) -> pl.DataFrame:
    band = checks.batch.row_count
    before = {c.file[: c.file.rfind("_")]: c for c in previous.files} if previous else {}
    rows = []
    for count in status.files:
        prior = before.get(count.file[: count.file.rfind("_")])
        ok = count.status == "ok"
        comparable = ok and prior is not None and prior.status == "ok" and prior.rows_read >= band.min_previous_rows
        missing, differences = _header(count, specs.get(count.file))
        read = bool(count.columns) and count.file in specs
        rows.append({
            "file": count.file, "table": count.table, "status": count.status, "rows_read": count.rows_read,
            "quarantined": count.quarantined,
            "quarantined_share": count.quarantined / count.rows_read
            if ok and count.rows_read >= max(checks.batch.min_rows_for_share, 1) else None,
            "min_rows": getattr(checks.batch.min_rows, count.table) if ok else None,
            "previous_rows": prior.rows_read if prior is not None and prior.status == "ok" else None,
            "row_ratio": count.rows_read / prior.rows_read if comparable and prior is not None else None,
            "missing_columns": len(missing) if read else None,
            "layout_differences": len(differences) if read else None,
        })
    return pl.DataFrame(rows, schema={
        "file": pl.String, "table": pl.String, "status": pl.String, "rows_read": pl.Int64,
        "quarantined": pl.Int64, "quarantined_share": pl.Float64, "min_rows": pl.Int64,
        "previous_rows": pl.Int64, "row_ratio": pl.Float64, "missing_columns": pl.Int64,
        "layout_differences": pl.Int64,
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
    tables: dict[str, Path], specs: dict[str, FileSpec],
) -> int:
    """Move quarantine-level failures from the source's tables into its quarantine; return rows moved.

    The tables are read in full (every column) only here, when there is something to move.
    """
    total = sum(len(v) for v in moves.values())
    if not total:
        return 0
    frames = {name: pl.read_parquet(path) for name, path in tables.items()}
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
        outputs.write_parquet(frame, folder / f"{table_name}.parquet")
    outputs.write_parquet(pl.concat([quarantine, pl.DataFrame(new_rows, schema=QUARANTINE_SCHEMA)]),
                          folder / "quarantine.parquet")
    status.people = frames["people"].height if "people" in frames else 0
    status.appointments = frames["appointments"].height if "appointments" in frames else 0
    status.mentions = frames["mentions"].height if "mentions" in frames else 0
    status.quarantined += total
    outputs.write_json(folder / "status.json", asdict(status))
    return total


def validate_source(night_dir: Path, source: str, config_dir: Path, extract_date: dt.date,
                    runner: Runner | None = None) -> GateResult:
    """Run one source's expectation suites on what the ingest wrote tonight, and decide the gate.

    Call right after :func:`landing.ingest.ingest_source` for the same source and night. Writes
    ``<night>/checks/<source>/results.json`` and ``gate.json``; moves quarantine-level row failures
    into ``landing/sources/<source>/quarantine.parquet`` (see the module docstring).

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key (as in ``config/sources.yaml``).
        config_dir: the folder holding ``sources.yaml`` and ``checks.yaml``.
        extract_date: the night.
        runner: what runs the suites (default: Great Expectations; :class:`checks.memo.MemoRunner` reuses
            outcomes kept from the night before).

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

    from checks.suites import declare_suites

    runner = runner if runner is not None else _runner()
    suites = declare_suites(source, spec, checks, extract_date, sources.allow_test_range_nhs_numbers)
    specs = {f.file_name(extract_date.strftime("%Y%m%d")): f for f in spec.files}
    counts = {c.file: c for c in status.files}
    tables = {t: folder / f"{t}.parquet" for t in TABLE_SCHEMAS if (folder / f"{t}.parquet").exists()}
    moves: dict[str, dict[int, tuple[str, Check, str]]] = {}
    for file, rows_suite in ((k, v) for k, v in suites.items() if k != "files"):
        count = counts.get(file)
        if count is None:
            continue
        for warning in count.warnings:
            gate.warnings.append(GateFailure(file, "ingest", warning, "", f"{file}: {warning}"))
        if count.status == "missing":
            gate.warnings.append(GateFailure(
                file, "file_missing", "missing", "present",
                f"{file}: not in tonight's drop although the source's people file is; its people are used, "
                f"but tonight's {specs[file].table} from it are absent: ask the {spec.label} system to re-export it"))
        if count.status != "ok" or specs[file].table not in tables:
            continue
        fspec = specs[file]
        # only the columns the suite reads (and the row number) are read from the table
        needed = {"row", *(n for e in _column_exprs(rows_suite, fspec.table, fspec) for n in e.meta.root_names())}
        table = (pl.scan_parquet(tables[fspec.table]).filter(pl.col("file") == file)
                 .select(sorted(needed)).collect())
        if fspec.table != "people" and groupable(rows_suite):
            outcome = _run_grouped(runner, rows_suite, fspec.table, table, fspec)
        else:
            outcome = runner.run(rows_suite, _validation_frame(rows_suite, fspec.table, table, fspec))
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
    gate.set_aside_by_checks = _set_aside(folder, status, moves, tables, specs)

    prior = previous_status(night_dir, source, extract_date)
    gate.previous_night = prior[0] if prior else None
    files_frame = _files_frame(status, checks, prior[1] if prior else None, specs)
    files_suite: SuiteSpec = suites["files"]
    outcome = runner.run(files_suite, files_frame.to_pandas())
    results["previous_night"] = gate.previous_night
    results["files"] = files_frame.to_dicts()
    results["suites"].append(_suite_summary(files_suite, None, files_frame.height, outcome, gate, keep_rows=False))
    for check in files_suite.checks:
        for position in _index_rows(outcome[check.name]["result"]):
            file_row = files_frame.row(position, named=True)
            count = counts[file_row["file"]]
            if check.name in ("columns_present", "columns_known"):
                _layout_findings(check, count, specs[count.file], gate)
            else:
                gate.failures.append(_batch_failure(check.name, file_row, count, spec.label,
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
        if check.level == "flag" and suite.batch == "rows":
            gate.warnings.append(GateFailure(file, check.name, str(summary.get("observed")), check.allowed,
                                             f"{where}: {check.name} ({check.column or 'table'}): "
                                             f"{summary.get('observed')}; allowed: {check.allowed}; rows kept "
                                             "and flagged (see checks/validation.html for sample rows)"))
    return {"suite": suite.name, "batch": suite.batch, "file": file, "rows": rows,
            "success": all(e["success"] for e in expectations), "expectations": expectations}


def _layout_findings(check: Check, count: FileCount, spec: FileSpec, gate: GateResult) -> None:
    """What a failed header check of the files batch means for one file: a failure naming each missing
    required column, or a warning listing the columns that differ from the configured layout."""
    file = count.file
    missing, differences = _header(count, spec)
    if check.name == "columns_present":
        for column in missing:
            gate.failures.append(GateFailure(file, "missing_column", f"{column!r} not in the header",
                                             "the column is in the header", f"{file}: required column {column!r} is "
                                             "missing from the header: the export layout changed; fix the export "
                                             "or config/sources.yaml"))
        return
    observed = f"columns differing from the configured layout: {differences}"
    gate.warnings.append(GateFailure(file, check.name, observed, check.allowed,
                                     f"{file}: {check.name} (header): {observed}; allowed: {check.allowed}; "
                                     "unknown columns are ignored, missing optional columns are left blank"))


def _write(out: Path, results: dict[str, Any], gate: GateResult, started: float) -> None:
    gate.seconds = round(time.perf_counter() - started, 3)
    results["gate"] = {"status": gate.status, "passed": gate.passed, "seconds": gate.seconds}
    outputs.write_json(out / "results.json", results)
    outputs.write_json(out / "gate.json", gate.to_dict())
