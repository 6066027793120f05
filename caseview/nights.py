"""Reading the deployment's nights: the files each stage wrote in ``<output>/<YYYY-MM-DD>/``.

Parquet files are read once per change (cached by path and modification time): the nightly run
replaces them, the case view only reads them.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from alerts.leads import LeadsConfig, route_finding

_NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def nights(output: Path) -> list[tuple[dt.date, Path]]:
    """The night folders of a deployment, oldest first.

    Args:
        output: the deployment's output folder.
    """
    found = []
    if output.is_dir():
        for folder in output.iterdir():
            if folder.is_dir() and _NIGHT.match(folder.name):
                try:
                    found.append((dt.date.fromisoformat(folder.name), folder))
                except ValueError:
                    continue
    return sorted(found)


@lru_cache(maxsize=64)
def _read(path: str, _mtime_ns: int) -> pl.DataFrame:
    return pl.read_parquet(path)


def read(path: Path) -> pl.DataFrame | None:
    """A Parquet file, or None when it is not there.

    Args:
        path: the file.
    """
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _read(str(path), mtime)


def latest_findings(output: Path) -> tuple[dt.date | None, pl.DataFrame | None]:
    """The newest night that has findings, and its ``findings.parquet``.

    Args:
        output: the deployment's output folder.
    """
    for night, folder in reversed(nights(output)):
        frame = read(folder / "findings.parquet")
        if frame is not None:
            return night, frame
    return None, None


def find_finding(output: Path, finding_id: str) -> tuple[dt.date, Path, dict[str, Any]] | None:
    """A finding as the newest night holding it wrote it: ``(night, night folder, row)``.

    Args:
        output: the deployment's output folder.
        finding_id: the finding.
    """
    for night, folder in reversed(nights(output)):
        frame = read(folder / "findings.parquet")
        if frame is None:
            continue
        rows = frame.filter(pl.col("finding_id") == finding_id)
        if rows.height:
            return night, folder, rows.row(0, named=True)
    return None


def leads_of(row: dict[str, Any], leads: LeadsConfig) -> set[str]:
    """The keys of the leads a finding is routed to.

    Args:
        row: a findings row.
        leads: the leads configuration.
    """
    return route_finding(list(row.get("routes") or []), leads)


def child_findings(output: Path, person_id: str) -> list[tuple[dt.date, dict[str, Any]]]:
    """Every night's findings about one child (one entry per finding per night it was found).

    Args:
        output: the deployment's output folder.
        person_id: the child's person id.
    """
    out: list[tuple[dt.date, dict[str, Any]]] = []
    for night, folder in nights(output):
        frame = read(folder / "findings.parquet")
        if frame is None:
            continue
        for row in frame.filter(pl.col("child_person_id") == person_id).iter_rows(named=True):
            out.append((night, row))
    return out


def people_rows(folder: Path, refs: set[str], columns: list[str] | None = None) -> pl.DataFrame | None:
    """The night's people records with the given ``source:record_id`` keys.

    Args:
        folder: the night folder.
        refs: ``source:record_id`` keys.
        columns: the columns wanted (all when None).
    """
    people = read(folder / "landing" / "people.parquet")
    if people is None:
        return None
    keyed = people.with_columns((pl.col("source") + ":" + pl.col("record_id").cast(pl.String)).alias("ref"))
    keyed = keyed.filter(pl.col("ref").is_in(sorted(refs)))
    if columns is not None:
        keyed = keyed.select([c for c in ["ref", *columns] if c in keyed.columns])
    return keyed
