"""Independent calls in local processes, as the night's own process would run them.

Each process starts from a forkserver (not a fork: the parent holds polars' thread pool, which a fork does not
copy safely) that has imported the heavy libraries once (:data:`PRELOAD`), takes the parent's umask (person data stays
owner-only) and sends its log records to the parent's handlers (the same format, level, redaction and debug
log as the parent's own records: nothing a process logs is lost or leaves unredacted). Results come back in the
order of the calls; the first call, in that order, that raised re-raises its exception here once every call
has ended, so a failure is never silent and never depends on which process finished first.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from multiprocessing import forkserver
from typing import Any

#: What the forkserver imports once for every process: third-party libraries only (not Great Expectations, which
#: a night whose gate suites are all reused never imports). A project module may run a
#: polars operation at import (``ground.nhs`` does), which starts polars' thread pool in the server, and every
#: process forked from it then waits for ever on its first parallel polars call.
PRELOAD = ("numpy", "pandas", "polars", "pyarrow", "recordlinkage", "sqlalchemy")

#: What a server started ahead of a night (:func:`start_server`) imports as well: the data-quality gate's library,
#: imported there while the night validates its configuration, instead of once in every process that gates a
#: source (about two to three seconds each).
NIGHT_PRELOAD = (*PRELOAD, "great_expectations")

#: ``processes: auto`` runs this many local processes at most (fewer on a machine with fewer cores).
AUTO_PROCESSES = 2


def resolve_processes(setting: int | str | None) -> int:
    """How many local processes a ``processes`` setting means here: a number as it is, ``auto`` (or None) the
    smaller of :data:`AUTO_PROCESSES` and this machine's cores.

    Args:
        setting: a positive number, ``"auto"`` or None.
    """
    if setting is None or setting == "auto":
        return max(1, min(AUTO_PROCESSES, os.cpu_count() or 1))
    return max(1, int(setting))


def start_server(preload: Sequence[str] = NIGHT_PRELOAD) -> None:
    """Start the local processes' server now, importing ``preload`` there while this process goes on.

    Calls to :func:`run_in_processes` after it start their processes from this server (its imports done once);
    without it, the first call starts the server with :data:`PRELOAD`. Starting does not wait for the imports.

    Args:
        preload: third-party modules only (see :data:`PRELOAD`).
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


def _child_start(umask: int, queue: Any, level: int) -> None:
    os.umask(umask)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.handlers.QueueHandler(queue))
    root.setLevel(level)


class ProcessCallFailed(RuntimeError):
    """A call in a local process raised an exception that cannot be sent back as it is (its type and message)."""


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            raise ProcessCallFailed(f"{type(exc).__name__}: {exc}") from None
        raise


def run_in_processes(calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]], processes: int) -> list[Any]:
    """Run ``fn(*args)`` for every call, in up to ``processes`` local processes; in this process when one is enough.

    Args:
        calls: ``(fn, args)`` pairs; ``fn`` a module-level function, ``args`` picklable.
        processes: the most processes to use (1: here, one call after another).

    Returns:
        Each call's result, in the order of ``calls``.
    """
    workers = min(processes, len(calls))
    if workers <= 1:
        return [fn(*args) for fn, args in calls]
    umask = os.umask(0)
    os.umask(umask)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))  # no effect once a server runs (start_server's, for one)
    queue = context.Queue()
    root = logging.getLogger()
    listener = logging.handlers.QueueListener(queue, *root.handlers, respect_handler_level=True)
    listener.start()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_child_start,
                                 initargs=(umask, queue, root.getEffectiveLevel())) as pool:
            futures: list[Future[Any]] = [pool.submit(_call, fn, args) for fn, args in calls]
            wait(futures)
    finally:
        listener.stop()
        queue.close()
    return [f.result() for f in futures]
