"""Reading the night's files defensively: a missing or unreadable file is ``None``, never an error."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from ground import outputs
from ground.config import ConfigError
from ground.layout import NightLayout
from ground.sources import load_registry

log = logging.getLogger(__name__)

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read_parquet(path: Path) -> pl.DataFrame | None:
    """A Parquet file, or ``None`` when absent or unreadable.

    Args:
        path: the file.
    """
    if not path.is_file():
        return None
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # a half-written file must not stop the report
        log.warning("report: cannot read %s: %s", path.name, exc)
        return None


def read_csv(path: Path) -> pl.DataFrame | None:
    """A CSV file with every column as text, or ``None`` when absent or unreadable.

    Args:
        path: the file.
    """
    if not path.is_file():
        return None
    try:
        return pl.read_csv(path, infer_schema=False)
    except Exception as exc:
        log.warning("report: cannot read %s: %s", path.name, exc)
        return None


def read_json(path: Path) -> Any:
    """A JSON document, or ``None`` when absent or unreadable.

    Args:
        path: the file.
    """
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("report: cannot read %s: %s", path.name, exc)
        return None


def expected_sources(config_dir: Path) -> list[str]:
    """The sources the configuration expects (none, with a warning, when sources.yaml cannot be read).

    Args:
        config_dir: the configuration folder.
    """
    try:
        return list(load_registry(config_dir).codes)
    except ConfigError as exc:
        log.warning("report: the source registry cannot be read, so missing sources are not listed: %s",
                    type(exc).__name__)
        return []


def sibling_nights(night_dir: Path, before: date) -> list[tuple[date, Path]]:
    """Earlier complete nights of the same deployment (sibling ``YYYY-MM-DD`` folders), oldest first.

    A night without its completion marker (its run did not finish) is left out.

    Args:
        night_dir: tonight's folder.
        before: only nights strictly before this date.
    """
    parent = night_dir.parent
    out: list[tuple[date, Path]] = []
    if not parent.is_dir():
        return out
    for p in parent.iterdir():
        if p.is_dir() and _DATE_DIR.match(p.name):
            try:
                d = date.fromisoformat(p.name)
            except ValueError:
                continue
            if d < before and outputs.night_complete(p):
                out.append((d, p))
    return sorted(out)


@dataclass
class NightFiles:
    """Every input of one night the report uses (each ``None`` when not available)."""

    night_dir: Path
    files: pl.DataFrame | None = None
    quarantine: pl.DataFrame | None = None
    gates: dict[str, Any] = field(default_factory=dict)
    validation_html: bool = False
    people: pl.DataFrame | None = None
    records: pl.DataFrame | None = None
    pairs: pl.DataFrame | None = None
    findings: pl.DataFrame | None = None
    drop: dict[str, Any] | None = None  # landing/drop.json: complete or not, sources missing and failed

    @classmethod
    def load(cls, night_dir: Path, people: bool = True) -> NightFiles:
        """Read a night's folder.

        Args:
            night_dir: ``<output>/<YYYY-MM-DD>``.
            people: also read ``landing/people.parquet`` (only the review export needs it).
        """
        night = NightLayout(night_dir)
        gates: dict[str, Any] = {}
        if night.checks.is_dir():
            for gate in sorted(night.checks.glob(f"*/{night.gate('*').name}")):
                doc = read_json(gate)
                if isinstance(doc, dict):
                    gates[gate.parent.name] = doc
        findings = read_parquet(night.findings)
        if findings is None:
            findings = read_csv(night.findings_csv)
        drop = read_json(night.drop)
        return cls(
            night_dir=night_dir,
            files=read_parquet(night.files),
            quarantine=read_csv(night.quarantine),
            gates=gates,
            validation_html=night.validation_html.is_file(),
            people=read_parquet(night.people) if people else None,
            records=read_parquet(night.linked_records),
            pairs=read_parquet(night.pairs),
            findings=findings,
            drop=drop if isinstance(drop, dict) else None,
        )
