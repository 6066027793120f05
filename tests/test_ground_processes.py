"""Independent calls in local processes (``ground.processes``): results in order, the parent's umask and log
handlers, failures raised in call order."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from multiprocessing import forkserver
from typing import Any

import pytest

from ground.processes import (
    AUTO_PROCESSES,
    NIGHT_PRELOAD,
    PRELOAD,
    ProcessCallFailed,
    resolve_processes,
    run_in_processes,
    start_server,
)
from tests.helpers import processes as helpers


@pytest.mark.parametrize(("setting", "cores", "expected"), [
    ("auto", 8, AUTO_PROCESSES), ("auto", 1, 1), (None, 8, AUTO_PROCESSES), (None, None, 1), (3, 1, 3), (1, 8, 1),
])
def test_resolve_processes(monkeypatch: pytest.MonkeyPatch, setting: int | str | None, cores: int | None,
                           expected: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert resolve_processes(setting) == expected


def test_one_process_runs_here_in_order() -> None:
    got = run_in_processes([(helpers.pid_and_umask, (x,)) for x in "abc"], 1)
    assert [(label, pid) for label, pid, _ in got] == [("a", os.getpid()), ("b", os.getpid()), ("c", os.getpid())]


def test_two_processes_keep_order_and_umask() -> None:
    previous = os.umask(0o077)
    try:
        got = run_in_processes([(helpers.pid_and_umask, (x,)) for x in "abcd"], 2)
    finally:
        os.umask(previous)
    assert [label for label, _, _ in got] == ["a", "b", "c", "d"]
    assert {umask for _, _, umask in got} == {0o077}
    pids = {pid for _, pid, _ in got}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


def test_child_log_records_reach_the_parent_handlers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        assert run_in_processes([(helpers.log_then_return, (v,)) for v in (7, 8)], 2) == [7, 8]
    records = [r for r in caplog.records if r.name == "tests.helpers.processes"]
    assert sorted(r.getMessage() for r in records) == ["child says 7", "child says 8"]
    assert sorted(r.__dict__["value"] for r in records) == [7, 8]
    assert {r.levelno for r in records} == {logging.WARNING}


def test_first_failure_in_call_order_is_raised_after_all_ran() -> None:
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (helpers.log_then_return, (1,)), (helpers.fail, ("second",)), (helpers.fail, ("third",))]
    with pytest.raises(ValueError, match=r"^failed second$"):
        run_in_processes(calls, 2)


def test_an_exception_pickle_cannot_rebuild_still_arrives() -> None:
    with pytest.raises(ProcessCallFailed, match=r"^Picky: picky 1-2$"):
        run_in_processes([(helpers.fail, ("picky",)), (helpers.log_then_return, (1,))], 2)


def test_processes_run_parallel_polars_after_importing_project_modules() -> None:
    # the server imports third-party libraries only: a project module started at import would hang every process
    assert run_in_processes([(helpers.polars_after_project_import, (n,)) for n in (10, 20_000)], 2) == [
        45, 199_990_000]
    assert not any(name.split(".")[0] in {"ground", "landing", "checks", "linkage", "alerts", "safelink"}
                   for name in PRELOAD)


@pytest.fixture
def fresh_server() -> Iterator[None]:
    """No local processes' server running before or after the test (``_stop`` is the standard library's own hook
    for its tests)."""
    forkserver._forkserver._stop()  # type: ignore[attr-defined]
    yield
    forkserver._forkserver._stop()  # type: ignore[attr-defined]


def test_a_server_started_ahead_has_imported_the_gates_library(fresh_server: None) -> None:
    start_server()
    assert run_in_processes([(helpers.already_imported, ("great_expectations",))] * 2, 2) == [True, True]
    assert set(NIGHT_PRELOAD) - set(PRELOAD) == {"great_expectations"}


def test_without_a_server_started_ahead_processes_import_the_gates_library_themselves(fresh_server: None) -> None:
    assert run_in_processes([(helpers.already_imported, ("great_expectations",))] * 2, 2) == [False, False]
