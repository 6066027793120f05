"""Ingest one night's drop by configuration into the three canonical tables.

``ingest_drop`` is the only entry point: the CLI and the Airflow DAG both call it. It reads every
configured file, collapses exact duplicate rows, sets aside rows that cannot be used (with the
file, row, column, masked value and reason), and checks that every row read is accounted for.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from ground import outputs
from ground.safe_csv import write_safe_csv
from ground.sources import FileSpec, SourcesConfig
from landing.mask import mask_value
from landing.parse import REASON, REASON_COLUMN, REASON_VALUE, parse_file
from landing.readers import FileUnreadable, RawFile, read_extract

log = logging.getLogger(__name__)

SUCCESS_MARKER = "_SUCCESS"
QUARANTINE_SCHEMA = {
    "source": pl.String, "file": pl.String, "row": pl.Int64, "column": pl.String,
    "value": pl.String, "reason": pl.String, "check": pl.String,
}

FILES_SCHEMA = {
    "source": pl.String, "file": pl.String, "table": pl.String, "status": pl.String, "rows_read": pl.Int64,
    "accepted": pl.Int64, "quarantined": pl.Int64, "duplicates": pl.Int64, "blank_lines": pl.Int64,
    "message": pl.String,
}


class DropIncomplete(Exception):
    """The drop has no ``_SUCCESS`` marker and the run was not told to go on without it."""


class ConservationError(AssertionError):
    """Rows read did not equal rows accepted + set aside + duplicates collapsed."""


@dataclass
class FileCount:
    """Row accounting for one file on one night."""

    source: str
    file: str
    table: str
    status: str  # ok | missing | unreadable
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    blank_lines: int = 0
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the header as read (for the layout checks)

    def conserved(self) -> bool:
        """Whether every row read is accepted, set aside or a collapsed duplicate."""
        return self.rows_read == self.accepted + self.quarantined + self.duplicates


@dataclass
class IngestResult:
    """What ingest wrote and counted (counts only: no person data)."""

    night_dir: Path
    complete_drop: bool
    sources_present: list[str]
    sources_missing: list[str]
    sources_failed: list[str]
    files: list[FileCount]
    people: int
    appointments: int
    mentions: int
    quarantined: int

    def summary(self) -> dict[str, object]:
        """A JSON-ready summary."""
        data = asdict(self)
        data["night_dir"] = str(self.night_dir)
        return data


def drop_dir(landing: Path, extract_date: dt.date) -> Path:
    """The folder of one night's drop: ``<landing>/<YYYY-MM-DD>``.

    Args:
        landing: the landing root.
        extract_date: the extract date.
    """
    return landing / extract_date.isoformat()


def _other_dates(folder: Path, spec: FileSpec, expected: str) -> list[str]:
    return sorted(p.name for p in folder.glob(f"{spec.name}_*.csv") if p.name != expected)


def _quarantine_rows(source: str, file: str, parsed: pl.DataFrame) -> pl.DataFrame:
    bad = parsed.filter(pl.col(REASON).is_not_null())
    return pl.DataFrame(
        {
            "source": [source] * bad.height,
            "file": [file] * bad.height,
            "row": bad.get_column("_row"),
            "column": bad.get_column(REASON_COLUMN),
            "value": [mask_value(c, v) for c, v in zip(bad.get_column(REASON_COLUMN),
                                                        bad.get_column(REASON_VALUE), strict=True)],
            "reason": bad.get_column(REASON),
            "check": ["row"] * bad.height,
        },
        schema=QUARANTINE_SCHEMA,
    )


def _aggregate_episodes(accepted: pl.DataFrame) -> pl.DataFrame:
    """One person record per identifier from several episode rows (e.g. camhs referrals)."""
    has_end = "end_date" in accepted.columns
    is_open = pl.col("end_date").is_null() if has_end else pl.lit(True)
    ordered = accepted.with_columns(is_open.alias("_open")).sort(
        ["record_id", "_open", "start_date", "_row"] if "start_date" in accepted.columns
        else ["record_id", "_open", "_row"],
        nulls_last=False,
    )
    services = (
        pl.when(pl.col("_open").any())
        .then(pl.col("other_services").filter(pl.col("_open")).drop_nulls().str.join(";"))
        .otherwise(pl.col("other_services").drop_nulls().str.join(";"))
    )
    aggregations = [
        pl.all().exclude("record_id", "_row", "flags", "other_services", "_open").last(),
        pl.col("_row").min(),
        pl.col("flags").list.explode(keep_nulls=False, empty_as_null=False).unique().alias("flags"),
        pl.col("_open").any(),
    ]
    if "other_services" in accepted.columns:
        aggregations.append(services.alias("other_services"))
    out = ordered.group_by("record_id", maintain_order=True).agg(aggregations)
    out = out.with_columns(
        pl.when(pl.col("other_services") == "").then(None).otherwise(pl.col("other_services"))
        .alias("other_services")
    ) if "other_services" in out.columns else out
    if has_end:
        out = out.with_columns(pl.when(pl.col("_open")).then(None).otherwise(pl.col("end_date")).alias("end_date"))
    return out.drop("_open").sort("_row")


def _read_one(
    source: str, spec: FileSpec, path: Path, extract_date: dt.date, allow_test_range: bool
) -> tuple[FileCount, pl.DataFrame | None, pl.DataFrame]:
    count = FileCount(source=source, file=path.name, table=spec.table, status="ok")
    try:
        essential = [f.column for f in spec.fields.values() if f.required or f.is_strict]
        raw: RawFile = read_extract(path, spec.encoding, spec.columns, spec.other_columns, essential)
    except FileUnreadable as exc:
        count.status = "unreadable"
        count.message = f"{exc.check}: {exc}"
        count.columns = list(exc.header)
        return count, None, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    count.rows_read = raw.rows_read
    count.blank_lines = raw.blank_lines
    count.warnings = list(raw.warnings)
    count.columns = list(raw.header)
    rejects = pl.DataFrame(
        [{**r, "source": source} for r in raw.rejects], schema=QUARANTINE_SCHEMA
    ) if raw.rejects else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    frame = raw.frame
    first = frame.get_column("_line_hash").is_first_distinct()
    count.duplicates = int((~first).sum())
    frame = frame.filter(first)
    parsed = parse_file(frame, spec, extract_date, allow_test_range)
    if spec.table == "people" and spec.one_row_per_record:
        # A second row with an identifier already accepted, but different data, cannot be trusted.
        duplicate_id = parsed.select(
            pl.col(REASON).is_null() & ~pl.struct("record_id", pl.col(REASON).is_null()).is_first_distinct()
        ).to_series()
        id_column = spec.fields["record_id"].column
        parsed = parsed.with_columns(
            pl.when(duplicate_id).then(pl.lit("duplicate_identifier")).otherwise(pl.col(REASON)).alias(REASON),
            pl.when(duplicate_id).then(pl.lit(id_column)).otherwise(pl.col(REASON_COLUMN)).alias(REASON_COLUMN),
            pl.when(duplicate_id).then(pl.col("record_id")).otherwise(pl.col(REASON_VALUE)).alias(REASON_VALUE),
        )
    quarantine = pl.concat([rejects, _quarantine_rows(source, path.name, parsed)])
    count.quarantined = quarantine.height
    accepted = parsed.filter(pl.col(REASON).is_null()).drop(REASON, REASON_COLUMN, REASON_VALUE, "_line_hash")
    count.accepted = accepted.height
    if not count.conserved():
        raise ConservationError(
            f"{path.name}: rows read {count.rows_read} != accepted {count.accepted} + "
            f"set aside {count.quarantined} + duplicates {count.duplicates}"
        )
    accepted = accepted.with_columns(pl.lit(source).alias("source"), pl.lit(path.name).alias("file"))
    return count, accepted.rename({"_row": "row"}), quarantine


def _finish_people(frame: pl.DataFrame, spec: FileSpec) -> pl.DataFrame:
    frame = frame.rename({"row": "_row"})
    if not spec.one_row_per_record:
        frame = _aggregate_episodes(frame)
    is_open = pl.col("end_date").is_null() if spec.open_when == "end_date_blank" else pl.lit(True)
    return frame.with_columns(is_open.alias("is_open")).rename({"_row": "row"})


PEOPLE_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.String(), "record_id": pl.String(), "file": pl.String(), "row": pl.Int64(),
    "nhs_number_raw": pl.String(), "nhs_number": pl.String(), "nhs_status": pl.String(),
    "title": pl.String(), "forename": pl.String(), "middle_names": pl.String(), "surname": pl.String(),
    "known_as": pl.String(), "dob": pl.Date(), "sex": pl.String(), "address_line1": pl.String(),
    "postcode_raw": pl.String(), "postcode": pl.String(), "team": pl.String(), "practice": pl.String(),
    "school": pl.String(), "staff": pl.String(), "cp_plan": pl.Boolean(), "looked_after": pl.Boolean(),
    "other_services": pl.String(), "is_open": pl.Boolean(), "start_date": pl.Date(), "end_date": pl.Date(),
    "episode_id": pl.String(), "parental_status": pl.String(), "has_dependent_children": pl.String(),
    "substance_service_involved": pl.String(), "flags": pl.List(pl.String()),
}
APPOINTMENT_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.String(), "record_id": pl.String(), "file": pl.String(), "row": pl.Int64(),
    "appt_date": pl.Date(), "appt_time": pl.String(), "appt_type": pl.String(), "outcome_raw": pl.String(),
    "outcome": pl.String(), "staff": pl.String(), "owner_known": pl.Boolean(),
}
MENTION_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.String(), "owner_record_id": pl.String(), "file": pl.String(), "row": pl.Int64(),
    "kind": pl.String(), "forename": pl.String(), "surname": pl.String(), "dob": pl.Date(),
    "nhs_number": pl.String(), "relationship": pl.String(), "lives_with": pl.Boolean(),
    "parental_responsibility": pl.Boolean(), "owner_known": pl.Boolean(),
}


def conform(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Give a frame exactly the canonical columns, in order, adding absent ones as nulls.

    Args:
        frame: a frame holding some canonical columns.
        columns: the canonical schema.
    """
    return frame.select(
        [
            pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in columns.items()
        ]
    )


@dataclass
class SourceResult:
    """One source's ingest on one night (counts only)."""

    source: str
    status: str  # ok | missing | failed
    files: list[FileCount]
    people: int = 0
    appointments: int = 0
    mentions: int = 0
    quarantined: int = 0


def source_dir(night_dir: Path, source: str) -> Path:
    """Where one source's ingested tables live for the night.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key.
    """
    return night_dir / "landing" / "sources" / source


def check_drop(landing: Path, extract_date: dt.date, require_success: bool = True) -> bool:
    """Whether the drop is complete; raise when it must be and is not.

    Args:
        landing: the landing root.
        extract_date: the night.
        require_success: raise :class:`DropIncomplete` when ``_SUCCESS`` is absent.
    """
    folder = drop_dir(landing, extract_date)
    if not folder.is_dir():
        raise DropIncomplete(f"no drop folder for {extract_date.isoformat()} under the landing folder {landing}")
    complete = (folder / SUCCESS_MARKER).exists()
    if not complete and require_success:
        raise DropIncomplete(
            f"drop {extract_date.isoformat()} has no {SUCCESS_MARKER} marker: the export may still be running; "
            "rerun later, or pass --allow-incomplete to run on the files present"
        )
    if not complete:
        log.warning("drop %s has no %s marker: running on the files present", extract_date, SUCCESS_MARKER)
    return complete


def ingest_source(
    landing: Path, extract_date: dt.date, config: SourcesConfig, source: str, night_dir: Path
) -> SourceResult:
    """Read one source's files for the night into ``landing/sources/<source>/``.

    Args:
        landing: the landing root.
        extract_date: the night.
        config: the validated sources configuration.
        source: which source.
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    source_spec = config.sources[source]
    folder = drop_dir(landing, extract_date)
    stamp = extract_date.strftime("%Y%m%d")
    out = source_dir(night_dir, source)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.parquet"):
        stale.unlink()
    counts: list[FileCount] = []
    people_spec = source_spec.people_file
    people_path = folder / people_spec.file_name(stamp)
    if not people_path.exists():
        others = _other_dates(folder, people_spec, people_path.name)
        hint = f" (found {others}: a file for another date?)" if others else ""
        for spec in source_spec.files:
            counts.append(FileCount(source=source, file=spec.file_name(stamp), table=spec.table,
                                    status="missing", message=f"not in the drop{hint}"))
        log.warning("source %s missing tonight: its people are kept as they were, not treated as gone", source)
        result = SourceResult(source=source, status="missing", files=counts)
        _write_source_status(out, result)
        return result
    tables: dict[str, pl.DataFrame] = {}
    quarantines: list[pl.DataFrame] = []
    source_people: list[str] = []
    status = "ok"
    for spec in sorted(source_spec.files, key=lambda s: s.table != "people"):
        path = folder / spec.file_name(stamp)
        if not path.exists():
            counts.append(FileCount(source=source, file=path.name, table=spec.table, status="missing",
                                    message="not in the drop"))
            continue
        count, accepted, quarantine = _read_one(source, spec, path, extract_date, config.allow_test_range_nhs_numbers)
        counts.append(count)
        quarantines.append(quarantine)
        if accepted is None:
            if spec.table == "people":
                status = "failed"
            continue
        if spec.table == "people":
            finished = _finish_people(accepted, spec)
            source_people = finished.get_column("record_id").to_list()
            frame = conform(finished, PEOPLE_COLUMNS)
        elif spec.table == "appointments":
            frame = conform(accepted.with_columns(pl.col("record_id").is_in(source_people).alias("owner_known")),
                            APPOINTMENT_COLUMNS)
        else:
            frame = conform(
                accepted.with_columns(
                    pl.lit(spec.kind).alias("kind"),
                    pl.col("owner_record_id").is_in(source_people).alias("owner_known"),
                ),
                MENTION_COLUMNS,
            )
        tables[spec.table] = pl.concat([tables[spec.table], frame]) if spec.table in tables else frame
    for table, schema in (("people", PEOPLE_COLUMNS), ("appointments", APPOINTMENT_COLUMNS),
                          ("mentions", MENTION_COLUMNS)):
        outputs.write_parquet(tables.get(table, pl.DataFrame(schema=schema)), out / f"{table}.parquet")
    quarantine_frame = pl.concat(quarantines) if quarantines else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    outputs.write_parquet(quarantine_frame, out / "quarantine.parquet")
    result = SourceResult(
        source=source, status=status, files=counts,
        people=tables["people"].height if "people" in tables else 0,
        appointments=tables["appointments"].height if "appointments" in tables else 0,
        mentions=tables["mentions"].height if "mentions" in tables else 0,
        quarantined=quarantine_frame.height,
    )
    _write_source_status(out, result)
    log.info("ingest %s: %d people records, %d appointments, %d mentions, %d rows set aside (%s)",
             source, result.people, result.appointments, result.mentions, result.quarantined, status)
    return result


def _write_source_status(out: Path, result: SourceResult) -> None:
    outputs.write_json(out / "status.json", asdict(result))


def read_source_status(night_dir: Path, source: str) -> SourceResult:
    """Read back what :func:`ingest_source` recorded.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key.
    """
    data = json.loads((source_dir(night_dir, source) / "status.json").read_text(encoding="utf-8"))
    data["files"] = [FileCount(**f) for f in data["files"]]
    return SourceResult(**data)


def combine_sources(night_dir: Path, config: SourcesConfig, complete_drop: bool = True,
                    exclude: set[str] | None = None) -> IngestResult:
    """Concatenate the sources ingested tonight into the canonical tables and ``checks/quarantine.csv``.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        config: the sources configuration (which sources to expect).
        complete_drop: whether the drop had its ``_SUCCESS`` marker.
        exclude: sources failed by the data-quality gate: their tables are left out tonight.
    """
    exclude = exclude or set()
    results = [read_source_status(night_dir, s) for s in config.sources]
    frames: dict[str, list[pl.DataFrame]] = {"people": [], "appointments": [], "mentions": [], "quarantine": []}
    for result in results:
        folder = source_dir(night_dir, result.source)
        frames["quarantine"].append(pl.read_parquet(folder / "quarantine.parquet")
                                    if (folder / "quarantine.parquet").exists()
                                    else pl.DataFrame(schema=QUARANTINE_SCHEMA))
        if result.status != "ok" or result.source in exclude:
            continue
        for table in ("people", "appointments", "mentions"):
            frames[table].append(pl.read_parquet(folder / f"{table}.parquet"))
    out = night_dir / "landing"
    schemas = {"people": PEOPLE_COLUMNS, "appointments": APPOINTMENT_COLUMNS, "mentions": MENTION_COLUMNS}
    heights: dict[str, int] = {}
    for table, schema in schemas.items():
        frame = pl.concat(frames[table]) if frames[table] else pl.DataFrame(schema=schema)
        outputs.write_parquet(frame, out / f"{table}.parquet")
        heights[table] = frame.height
    quarantine = pl.concat(frames["quarantine"])
    (night_dir / "checks").mkdir(parents=True, exist_ok=True)
    write_safe_csv(quarantine, night_dir / "checks" / "quarantine.csv")
    files = [c for r in results for c in r.files]
    outputs.write_parquet(pl.DataFrame([{k: v for k, v in asdict(c).items() if k not in ("warnings", "columns")}
                                        for c in files], schema=FILES_SCHEMA), out / "files.parquet")
    combined = IngestResult(
        night_dir=night_dir, complete_drop=complete_drop,
        sources_present=[r.source for r in results if r.status == "ok" and r.source not in exclude],
        sources_missing=[r.source for r in results if r.status == "missing"],
        sources_failed=sorted({r.source for r in results if r.status == "failed"} | exclude),
        files=files, people=heights["people"], appointments=heights["appointments"],
        mentions=heights["mentions"], quarantined=quarantine.height,
    )
    # the night's drop as later stages (the designated summary) read it: no person data
    outputs.write_json(out / "drop.json", {
        "complete_drop": complete_drop, "sources_expected": list(config.sources),
        "sources_present": combined.sources_present, "sources_missing": combined.sources_missing,
        "sources_failed": combined.sources_failed,
    })
    return combined


def ingest_drop(
    landing: Path,
    extract_date: dt.date,
    config: SourcesConfig,
    night_dir: Path,
    require_success: bool = True,
) -> IngestResult:
    """Read one night's whole drop: every source, then the combined canonical tables.

    Args:
        landing: the landing root (holding ``<YYYY-MM-DD>/`` folders).
        extract_date: the night to read.
        config: the validated sources configuration.
        night_dir: ``<output>/<YYYY-MM-DD>``; created if absent.
        require_success: refuse a drop without ``_SUCCESS`` (otherwise go on and say so).

    Raises:
        DropIncomplete: no ``_SUCCESS`` marker and ``require_success``.
        ConservationError: a file's rows did not add up (never expected; a bug if raised).
    """
    complete = check_drop(landing, extract_date, require_success)
    for source in config.sources:
        ingest_source(landing, extract_date, config, source, night_dir)
    return combine_sources(night_dir, config, complete_drop=complete)
