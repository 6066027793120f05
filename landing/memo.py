"""Incremental nights: a source whose files are byte for byte last night's reuses last night's ingest.

What :func:`landing.ingest.ingest_source` writes for a source (its tables, quarantine and ``status.json``)
depends on the bytes of the source's files, ``sources.yaml``, the code and libraries, and the extract date. The
memo keeps the last ingest of each source (``<output>/night_memo/ingest/<source>/``) with a key over the first
four (:func:`source_key`). Tonight, the same key reuses it when the extract date cannot have changed anything:

- file names carry the date: every ``file`` column and count is renamed to tonight's file names;
- parsing compares a few dates with the extract date (:func:`landing.parse.date_dependent_columns`): the memo is
  reused only when no landed value lies between the memo's night and tonight (so no row can have changed sides),
  and never across dates for a file whose rows are aggregated into records (the rows are not all kept).

Anything else (another key, an unreadable memo, a people file missing tonight) ingests afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import polars as pl

from ground import outputs
from ground.memo import code_version, file_digest
from ground.sources import SourcesConfig, SourceSpec
from landing.ingest import FileCount, SourceResult, drop_dir, source_dir
from landing.parse import date_dependent_columns

log = logging.getLogger(__name__)

TABLES = ("people", "appointments", "mentions", "quarantine")
STAMP = "memo.json"
LIBRARIES = ("polars", "pyarrow")


def memo_version(config_dir: Path) -> str:
    """The ingest memo's version: the ground floor's and landing's code, polars, pyarrow, ``sources.yaml``.

    Args:
        config_dir: the configuration folder.
    """
    return code_version(("ground", "landing"), LIBRARIES, (Path(config_dir) / "sources.yaml",))


def source_key(landing: Path, extract_date: dt.date, config: SourcesConfig, source: str, version: str) -> str | None:
    """A hash of everything tonight's ingest of ``source`` reads except the date: None when its people file is
    absent (that path is cheap and reads the drop's listing).

    Args:
        landing: the landing root.
        extract_date: tonight.
        config: the sources configuration.
        source: the source key.
        version: :func:`memo_version`.
    """
    spec = config.sources[source]
    folder = drop_dir(landing, extract_date)
    stamp = extract_date.strftime("%Y%m%d")
    if not (folder / spec.people_file.file_name(stamp)).is_file():
        return None
    h = hashlib.sha256(f"{version}:{source}:{config.allow_test_range_nhs_numbers}".encode())
    for file in spec.files:
        path = folder / file.file_name(stamp)
        h.update(f"{file.table}:{file.name}:{file_digest(path) if path.is_file() else '-'};".encode())
    return h.hexdigest()


def _renames(spec: SourceSpec, then: dt.date, tonight: dt.date) -> dict[str, str]:
    old, new = then.strftime("%Y%m%d"), tonight.strftime("%Y%m%d")
    return {f.file_name(old): f.file_name(new) for f in spec.files}


def _dates_hold(memo: Path, spec: SourceSpec, then: dt.date, tonight: dt.date) -> bool:
    """Whether parsing under ``tonight`` gives what it gave under ``then`` for the landed rows."""
    if then == tonight:
        return True
    lo, hi = min(then, tonight), max(then, tonight)
    for file in spec.files:
        columns = date_dependent_columns(file)
        if not columns:
            continue
        if not file.one_row_per_record and file.table == "people":
            return False
        frame = pl.read_parquet(memo / f"{file.table}.parquet")
        for column, years in columns:
            value = pl.col(column).dt.offset_by(f"{years}y") if years else pl.col(column)
            if frame.select(((value > lo) & (value <= hi)).any()).item():
                return False
    return True


def restore(memo_root: Path, night_dir: Path, config: SourcesConfig, source: str, key: str,
            extract_date: dt.date) -> SourceResult | None:
    """Tonight's ingest of ``source`` from the memo, or None when the memo cannot give it.

    Args:
        memo_root: ``<output>/night_memo``.
        night_dir: ``<output>/<YYYY-MM-DD>``.
        config: the sources configuration.
        source: the source key.
        key: :func:`source_key` tonight.
        extract_date: tonight.
    """
    memo = memo_root / "ingest" / source
    try:
        if not (memo / STAMP).is_file():
            return None
        stamp = json.loads((memo / STAMP).read_text(encoding="utf-8"))
        if stamp.get("key") != key:
            return None
        spec = config.sources[source]
        then = dt.date.fromisoformat(stamp["night"])
        if not _dates_hold(memo, spec, then, extract_date):
            return None
        renames = _renames(spec, then, extract_date)
        status = json.loads((memo / "status.json").read_text(encoding="utf-8"))
        result = SourceResult(**{**status, "files": [FileCount(**{**f, "file": renames.get(f["file"], f["file"])})
                                                     for f in status["files"]]})
        frames = {t: pl.read_parquet(memo / f"{t}.parquet") for t in TABLES}
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as err:
        # a damaged memo costs time, never the night; the message names no value
        log.warning("ingest memo for %s cannot be read (%s): ingesting afresh", source, type(err).__name__)
        return None
    out = source_dir(night_dir, source)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.parquet"):
        stale.unlink()
    for table, frame in frames.items():
        renamed = frame.with_columns(pl.col("file").replace(renames)) if "file" in frame.columns else frame
        outputs.write_parquet(renamed, out / f"{table}.parquet")
    outputs.write_json(out / "status.json", asdict(result))
    log.info("ingest %s: reused the ingest of %s (files unchanged)", source, then.isoformat())
    return result


def keep(memo_root: Path, night_dir: Path, source: str, key: str, extract_date: dt.date) -> None:
    """Keep tonight's ingest of ``source`` (just written, before the gate) for the next night.

    Args:
        memo_root: ``<output>/night_memo``.
        night_dir: ``<output>/<YYYY-MM-DD>``.
        source: the source key.
        key: :func:`source_key` tonight.
        extract_date: tonight.
    """
    memo = memo_root / "ingest" / source
    memo.mkdir(parents=True, exist_ok=True)
    (memo / STAMP).unlink(missing_ok=True)  # a memo without its stamp is never read
    out = source_dir(night_dir, source)
    for name in (*(f"{t}.parquet" for t in TABLES), "status.json"):
        outputs.write_bytes(memo / name, (out / name).read_bytes())
    outputs.write_json(memo / STAMP, {"key": key, "night": extract_date.isoformat()})
