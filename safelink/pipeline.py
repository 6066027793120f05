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

from landing.config import SourcesConfig, load_sources
from landing.ingest import check_drop, combine_sources, ingest_source
from safelink.settings import DEFAULT_CONFIG_DIR, load_settings
from safelink.state import default_state_url

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
    """Ingest one source's files.

    Args:
        night: the night.
        source: the source key.
    """
    result = ingest_source(night.landing, night.extract_date, night.sources(), source, night.night_dir)
    return {"source": source, "status": result.status, "people": result.people,
            "appointments": result.appointments, "mentions": result.mentions, "quarantined": result.quarantined}


def stage_combine(night: Night, complete_drop: bool = True) -> dict[str, Any]:
    """Combine tonight's sources into the canonical tables.

    Args:
        night: the night.
        complete_drop: whether the drop had its ``_SUCCESS`` marker.
    """
    result = combine_sources(night.night_dir, night.sources(), complete_drop=complete_drop)
    return {"people": result.people, "appointments": result.appointments, "mentions": result.mentions,
            "quarantined": result.quarantined, "sources_missing": result.sources_missing,
            "sources_failed": result.sources_failed, "complete_drop": result.complete_drop}


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
        path = night_dir / "run_summary.json"
        path.write_text(json.dumps(self.__dict__, indent=2, default=str), encoding="utf-8")
        return path


def _timed(summary: RunSummary, name: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    counts = call()
    summary.durations_s[name] = round(time.perf_counter() - started, 3)
    summary.stages[name] = counts
    log.info("stage %s done in %.2fs: %s", name, summary.durations_s[name], counts)
    return counts


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
    summary.write(night.night_dir)
    return summary
