"""Module-level calls for the local-process tests (a process started from the forkserver imports them by name)."""

from __future__ import annotations

import logging
import os


def pid_and_umask(label: str) -> tuple[str, int, int]:
    """The label, this process's id and its umask."""
    umask = os.umask(0)
    os.umask(umask)
    return label, os.getpid(), umask


def log_then_return(value: int) -> int:
    """Log a warning carrying ``value`` (as a field and in the message), then return it."""
    logging.getLogger("tests.helpers.processes").warning("child says %d", value, extra={"value": value})
    return value


class Picky(Exception):
    """An exception that cannot be rebuilt from its args (as some project exceptions are)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"picky {a}-{b}")


def fail(kind: str) -> None:
    """Raise: ``value`` a ValueError, ``picky`` an exception pickle cannot rebuild."""
    if kind == "picky":
        raise Picky(1, 2)
    raise ValueError(f"failed {kind}")


def polars_after_project_import(n: int) -> int:
    """Import a project module that runs polars at import, then a parallel polars query (which would wait for
    ever in a process forked from a server whose polars thread pool had started)."""
    import polars as pl

    import ground.nhs  # noqa: F401

    frame = pl.DataFrame({"k": [i % 7 for i in range(n)], "v": list(range(n))})
    return int(frame.lazy().group_by("k").agg(pl.col("v").sum()).collect()["v"].sum())


def already_imported(module: str) -> bool:
    """Whether ``module`` was imported in this process before the call (by the server it was started from)."""
    import sys

    return module in sys.modules
