"""Incremental nights for ingest and the data-quality gate: one source's ingest and gate, reusing what the
deployment's memo (``<output>/night_memo``, :mod:`ground.memo`) kept from the night before where it is
certainly the same (:mod:`landing.memo`, :mod:`checks.memo`); a full night (``safelink run --full``) uses
and keeps none of it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from checks.gate import GateResult, _runner, validate_source
from checks.memo import MemoRunner
from checks.memo import memo_version as gate_version
from ground.sources import SourcesConfig
from landing import memo as ingest_memo
from landing.ingest import SourceResult, ingest_source

log = logging.getLogger(__name__)


def ingest_and_gate(landing: Path, extract_date: dt.date, config: SourcesConfig, source: str, night_dir: Path,
                    config_dir: Path, memo_root: Path | None) -> tuple[SourceResult, GateResult, dict[str, Any]]:
    """Ingest one source and run its gate, reusing the memo under ``memo_root`` (None: compute everything).

    Args:
        landing: the landing root.
        extract_date: tonight.
        config: the sources configuration.
        source: the source key.
        night_dir: ``<output>/<YYYY-MM-DD>``.
        config_dir: the configuration folder.
        memo_root: ``<output>/night_memo``, or None for a full night.

    Returns:
        ``(ingest, gate, reuse)``: reuse counts whether the ingest was reused and how many suites were.
    """
    if memo_root is None:
        result = ingest_source(landing, extract_date, config, source, night_dir)
        return result, validate_source(night_dir, source, config_dir, extract_date), {}
    key = ingest_memo.source_key(landing, extract_date, config, source, ingest_memo.memo_version(config_dir))
    restored = (ingest_memo.restore(memo_root, night_dir, config, source, key, extract_date)
                if key is not None else None)
    if restored is None:
        result = ingest_source(landing, extract_date, config, source, night_dir)
        if key is not None:
            ingest_memo.keep(memo_root, night_dir, source, key, extract_date)
    else:
        result = restored
    runner = MemoRunner(memo_root / "gate" / f"{source}.json", gate_version(config_dir), _runner)
    gate = validate_source(night_dir, source, config_dir, extract_date, runner=runner)
    runner.save()
    return result, gate, {"ingest_reused": restored is not None, "suites_reused": runner.reused,
                          "suites_run": runner.ran}
