"""Incremental nights: the data-quality gate reuses an expectation suite's outcome on a frame it has seen before.

An outcome of :meth:`checks.gate._GxRunner.run` depends only on the frame GX is handed (the columns the suite
reads and the row numbers), the suite's expectations and the code and libraries that evaluate them. The memo
keeps, per source, every outcome of the last night it ran (``<output>/night_memo/gate/<source>.json``,
owner-only: unexpected values are person data), keyed by a hash of the frame and of the suite with its date
bounds left out, and stamped with a version (:func:`memo_version`): a change to the gate's code, its
configuration or a library forces every suite through GX again.

Date bounds move with the extract date (``dob`` on or before tonight, appointments at most a year ahead): an
outcome is reused under tonight's bounds only when no value of the bounded column lies between last night's
bound and tonight's (both included), so that no row can have changed sides; otherwise the suite runs. Great
Expectations is imported only when some suite has to run (:class:`MemoRunner`; :class:`checks.suites.Declared`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ground import outputs
from ground.memo import code_version

if TYPE_CHECKING:
    from checks.suites import SuiteSpec

log = logging.getLogger(__name__)

BOUNDS = ("min_value", "max_value")
_HASH_KEYS = ("5afe11ac0ddb10c0", "0dd53a115afe11ac")
LIBRARIES = ("great_expectations", "pandas", "numpy", "polars", "pyarrow")


class Runner(Protocol):
    """What the gate needs of a runner: one suite on one pandas frame, outcomes keyed by check name."""

    def run(self, suite: SuiteSpec, frame: Any) -> dict[str, dict[str, Any]]:
        """Validate ``frame`` against ``suite``.

        Args:
            suite: the declared suite.
            frame: the pandas DataFrame.
        """


def memo_version(config_dir: Path) -> str:
    """The gate memo's version: the code of the ground floor, landing and checks, the libraries, and
    ``sources.yaml`` and ``checks.yaml`` as they are tonight.

    Args:
        config_dir: the configuration folder.
    """
    return code_version(("ground", "landing", "checks"), LIBRARIES,
                        (Path(config_dir) / "sources.yaml", Path(config_dir) / "checks.yaml"))


def _suite_shape(suite: SuiteSpec) -> tuple[str, dict[str, list[Any]]]:
    """The suite without its date bounds (as a hash), and each bounded check's column and bounds."""
    shape: list[Any] = [suite.name, suite.batch]
    bounds: dict[str, list[Any]] = {}
    for check in suite.checks:
        declared = check.expectation
        kwargs = {k: v for k, v in declared.kwargs.items() if k not in BOUNDS}
        # meta is not evaluated (it carries the words for the report, with tonight's dates): only the check's name,
        # which keys the outcome
        shape.append([check.name, check.level, check.reason, declared.kind, kwargs, declared.meta.get("check")])
        if any(k in declared.kwargs for k in BOUNDS):
            bounds[check.name] = [kwargs.get("column"), *(declared.kwargs.get(k) for k in BOUNDS)]
    text = json.dumps(shape, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest(), bounds


COLUMN_ARGUMENTS = ("column", "column_A", "column_B", "column_list")


def _read_columns(suite: SuiteSpec, frame: Any) -> list[str]:
    """The frame's columns the suite reads: those its expectations name, or all when one names none (a table
    expectation)."""
    named: set[str] = set()
    for check in suite.checks:
        given = [check.expectation.kwargs[a] for a in COLUMN_ARGUMENTS if a in check.expectation.kwargs]
        if not given:
            return [str(c) for c in frame.columns]
        for value in given:
            named.update([value] if isinstance(value, str) else value)
    return sorted(c for c in named if c in frame.columns)


def frame_key(frame: Any, columns: list[str]) -> str:
    """A hash of a pandas frame's columns ``columns``: names, dtypes, row index and every value (two
    independent 64-bit hashes per row).

    Args:
        frame: the pandas DataFrame.
        columns: which of its columns.
    """
    import pandas as pd

    part = frame[columns]
    h = hashlib.sha256(json.dumps([columns, [str(t) for t in part.dtypes], len(part)]).encode())
    for key in _HASH_KEYS:
        h.update(pd.util.hash_pandas_object(part, index=True, hash_key=key).to_numpy().tobytes())
    return h.hexdigest()


def _bounds_hold(old: dict[str, list[Any]], new: dict[str, list[Any]], frame: Any) -> bool:
    """Whether every row is on the same side of tonight's bounds as of the night the outcome was kept."""
    if old.keys() != new.keys():
        return False
    for name, (column, *now) in new.items():
        then = old[name][1:]
        for a, b in zip(then, now, strict=True):
            if a == b:
                continue
            if a is None or b is None or column not in frame.columns:
                return False
            lo, hi = min(a, b), max(a, b)
            try:
                values = frame[column]
                if bool(((values >= lo) & (values <= hi)).fillna(False).any()):
                    return False
            except (TypeError, ValueError):
                return False
    return True


def _plain(outcome: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """The outcome as JSON, or None when JSON would not give back exactly the same values."""
    try:
        plain = json.loads(json.dumps(outcome, allow_nan=False))
    except (TypeError, ValueError):
        return None
    return plain if plain == outcome else None


class MemoRunner:
    """A runner that answers from last night's outcomes where the frame and suite allow, else runs GX.

    Args:
        path: the source's memo file (``<output>/night_memo/gate/<source>.json``).
        version: :func:`memo_version` tonight.
        factory: builds the real runner (Great Expectations), called on the first suite that must run.
    """

    def __init__(self, path: Path, version: str, factory: Callable[[], Runner]) -> None:
        self.path = path
        self.version = version
        self._factory = factory
        self._runner: Runner | None = None
        self.entries = self._load()
        self.kept: dict[str, dict[str, Any]] = {}
        self.reused = 0
        self.ran = 0

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != self.version:
                return {}
            return dict(data["entries"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            # a damaged memo costs time, never the night; the message names no value
            log.warning("gate memo %s cannot be read (%s): running every suite", self.path.name, type(err).__name__)
            return {}

    def run(self, suite: SuiteSpec, frame: Any) -> dict[str, dict[str, Any]]:
        """Validate ``frame`` against ``suite``, reusing a kept outcome when it is certainly the same.

        Args:
            suite: the declared suite.
            frame: the pandas DataFrame.
        """
        shape, bounds = _suite_shape(suite)
        key = hashlib.sha256(f"{shape}:{frame_key(frame, _read_columns(suite, frame))}".encode()).hexdigest()
        entry = self.entries.get(key)
        if entry is not None and _bounds_hold(entry["bounds"], bounds, frame):
            self.reused += 1
            self.kept[key] = {"bounds": bounds, "outcome": entry["outcome"]}
            return copy.deepcopy(entry["outcome"])
        if self._runner is None:
            self._runner = self._factory()
        outcome = self._runner.run(suite, frame)
        self.ran += 1
        plain = _plain(outcome)
        if plain is not None:
            self.kept[key] = {"bounds": bounds, "outcome": plain}
        return outcome

    def save(self) -> None:
        """Keep tonight's outcomes for the next night (replacing the source's last ones)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text(self.path, json.dumps({"version": self.version, "entries": self.kept}))
