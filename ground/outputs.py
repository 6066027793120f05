"""How every output file is written, and how a night says it is whole.

Every file a run leaves is written to a temporary name in its own folder and renamed over the final
name (``os.replace`` is atomic on one file system), so a reader sees the old file or the new one,
never half of one. A night's folder is whole only when its completion marker ``_COMPLETE`` exists:
the run removes it first and writes it last, after every other output. Readers of a night (the
report's history, the data-quality gate's previous night, review import, scoring) refuse or skip a
night without it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ground.errors import OperatorError
from ground.exit_codes import EXIT_NOT_READY

COMPLETE_MARKER = "_COMPLETE"
_TEMP_INFIX = ".tmp-"


class NightIncomplete(OperatorError):
    """A night's folder has no completion marker: a run did not finish (or is still running)."""

    def __init__(self, night_dir: Path) -> None:
        super().__init__(
            f"{night_dir} is not a complete night (no {COMPLETE_MARKER} marker: its run did not finish or is still "
            f"running): run `safelink run` for {night_dir.name} again, then retry", EXIT_NOT_READY)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed over ``path`` when the block succeeds, removed when it fails.

    Args:
        path: the final file.

    Yields:
        The temporary path to write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}{_TEMP_INFIX}{os.getpid()}")
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically.

    Args:
        path: the final file.
        text: its content.
    """
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write bytes atomically.

    Args:
        path: the final file.
        data: its content.
    """
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write JSON (indented, dates as text) atomically.

    Args:
        path: the final file.
        data: JSON-ready data.
    """
    return write_text(path, json.dumps(data, indent=2, default=str))


def write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    """Write a frame as Parquet atomically.

    Args:
        frame: the rows.
        path: the final file.
    """
    with atomic_path(path) as temporary:
        frame.write_parquet(temporary)
    return path


def write_csv(frame: pl.DataFrame, path: Path, **options: Any) -> Path:
    """Write a frame as CSV atomically (``options`` go to ``polars.DataFrame.write_csv``).

    Args:
        frame: the rows.
        path: the final file.
        **options: e.g. ``null_value``.
    """
    with atomic_path(path) as temporary:
        frame.write_csv(temporary, **options)
    return path


def night_complete(night_dir: Path) -> bool:
    """Whether a night's folder holds its completion marker.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    return (night_dir / COMPLETE_MARKER).is_file()


def require_complete(night_dir: Path) -> None:
    """Refuse a night whose run did not finish.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.

    Raises:
        NightIncomplete: no completion marker.
    """
    if not night_complete(night_dir):
        raise NightIncomplete(night_dir)


def start_night(night_dir: Path) -> None:
    """Begin (or rerun) a night: remove its completion marker, then temporary files a killed run left.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    with contextlib.suppress(FileNotFoundError):
        (night_dir / COMPLETE_MARKER).unlink()
    if night_dir.is_dir():
        for leftover in night_dir.rglob(f".*{_TEMP_INFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def mark_complete(night_dir: Path, facts: dict[str, Any]) -> Path:
    """Write the completion marker, last of all the night's outputs.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        facts: counts to keep in it (no person data).
    """
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return write_json(night_dir / COMPLETE_MARKER, {"completed_at": stamp, **facts})
