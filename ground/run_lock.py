"""One run at a time per output: a PostgreSQL advisory lock, or a file lock beside the SQLite state.

A second run waits up to ``SAFELINK_LOCK_WAIT_S`` seconds for the first to finish, then refuses with
one line (exit status ``EXIT_BUSY``). The state schema's migrations run under the lock; on their own
(``open_state`` from ``safelink retry``, review import, an Airflow task) they are serialised by a
transaction-level advisory lock on PostgreSQL and a file lock beside the SQLite file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ground.errors import OperatorError
from ground.exit_codes import EXIT_BUSY

LOCK_FILE = ".safelink-run.lock"
POLL_S = 0.5


class RunLocked(OperatorError):
    """Another run holds this output's lock and did not finish within the wait."""

    def __init__(self, where: str, waited_s: float) -> None:
        super().__init__(
            f"another safelink run is using {where} and did not finish within {waited_s:g}s: let it finish "
            "(or stop it), then run again; SAFELINK_LOCK_WAIT_S sets how long to wait", EXIT_BUSY)


def safe_url(url: str) -> str:
    """The state URL without its password (for messages and lock keys).

    Args:
        url: a SQLAlchemy URL.
    """
    return make_url(url).render_as_string(hide_password=True)


def advisory_key(url: str, purpose: str) -> int:
    """A signed 64-bit advisory-lock key for one state database (its URL without password) and purpose.

    Args:
        url: the state database URL.
        purpose: ``run`` or ``migrations``.
    """
    digest = hashlib.sha256(f"safelink|{purpose}|{safe_url(url)}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _postgres_lock(url: str, wait_s: float) -> Iterator[None]:
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    key = advisory_key(url, "run")
    try:
        with engine.connect() as connection:
            deadline = time.monotonic() + wait_s
            while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                if time.monotonic() >= deadline:
                    raise RunLocked(f"the state database {safe_url(url)}", wait_s)
                time.sleep(POLL_S)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()


@contextmanager
def run_lock(output: Path, state_url: str, wait_s: float) -> Iterator[None]:
    """Hold the output's run lock for the block.

    Args:
        output: the deployment's output folder (the file lock lives there with SQLite state).
        state_url: the state database URL (PostgreSQL: an advisory lock in that database).
        wait_s: how long to wait for another run to finish.

    Raises:
        RunLocked: the lock was still held after ``wait_s`` seconds.
    """
    if state_url.startswith("postgresql"):
        with _postgres_lock(state_url, wait_s):
            yield
        return
    output.mkdir(parents=True, exist_ok=True)
    lock = FileLock(output / LOCK_FILE, timeout=wait_s, mode=0o600)
    try:
        lock.acquire(poll_interval=POLL_S)
    except Timeout:
        raise RunLocked(str(output), wait_s) from None
    try:
        yield
    finally:
        lock.release()
