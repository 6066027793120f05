"""Rows 5-8 of issue #15: one run at a time, owner-only files, whole nights only, and nights in order.

The runs are the real ``safelink run`` in subprocesses (killed with SIGKILL where the case says so) or
``run_night`` in-process, on the sample drop, with SQLite and PostgreSQL state.
"""

from __future__ import annotations

import datetime as dt
import grp
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ground.exit_codes import EXIT_BUSY, EXIT_CONFIG, EXIT_NOT_READY, EXIT_OK
from ground.outputs import COMPLETE_MARKER, night_complete
from ground.run_lock import RunLocked, run_lock
from ground.state import alembic_config, open_state
from linkage.ids import OutOfOrderNight, persist_ids
from linkage.state_tables import LinkageRecordPerson
from tests.conftest import ROOT, SAMPLE_DATE, SAMPLE_LANDING, read_review_csv, write_review_csv

DATE = SAMPLE_DATE.isoformat()


def copy_drop(landing: Path, date: dt.date) -> None:
    """The sample drop under another extract date."""
    target = landing / date.isoformat()
    target.mkdir(parents=True)
    stamp = SAMPLE_DATE.strftime("%Y%m%d")
    for path in (SAMPLE_LANDING / DATE).iterdir():
        shutil.copy(path, target / path.name.replace(stamp, date.strftime("%Y%m%d")))


def environment(state_url: str = "", **extra: str) -> dict[str, str]:
    """A clean environment for ``safelink``: this worktree's code, no SMTP, the given state database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFELINK_")}
    env |= {"PYTHONPATH": str(ROOT), "COLUMNS": "300"}
    if state_url.startswith("postgresql"):
        env["SAFELINK_STATE_URL"] = state_url
    return env | extra


def start(*args: str | Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "safelink.cli", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safelink.cli", *map(str, args)], env=env, text=True,
                          capture_output=True, timeout=900, check=False)


def night_run(landing: Path, out: Path, date: str = DATE) -> tuple[str, ...]:
    return ("run", "--landing", str(landing), "--date", date, "--output", str(out))


def wait_for(condition: object, process: subprocess.Popen[str], what: str, limit_s: float = 600) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def lock_is_held(out: Path, state_url: str) -> bool:
    try:
        with run_lock(out, state_url, wait_s=0):
            return False
    except RunLocked:
        return True


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [ln for ln in stderr.splitlines() if ln.startswith(("error:", "warning:"))]


# --- row 5: one run at a time per output ------------------------------------------------------------

@pytest.mark.slow
def test_two_concurrent_runs_the_second_waits_then_refuses_in_one_line(tmp_path: Path, state_url: str) -> None:
    out = tmp_path / "out"
    sqlite = not state_url.startswith("postgresql")
    url = f"sqlite:///{(out / 'state.sqlite').resolve()}" if sqlite else state_url
    first = start(*night_run(SAMPLE_LANDING, out), env=environment(state_url))
    try:
        wait_for(lambda: lock_is_held(out, url), first, "the first run took the lock")
        second = run(*night_run(SAMPLE_LANDING, out), env=environment(state_url, SAFELINK_LOCK_WAIT_S="1"))
        assert second.returncode == EXIT_BUSY
        [line] = error_lines(second.stderr)
        where = str(out) if sqlite else "the state database"
        assert line.startswith(f"error: another safelink run is using {where}")
        assert line.endswith("SAFELINK_LOCK_WAIT_S sets how long to wait")
        assert first.wait(timeout=900) == EXIT_OK, first.stderr.read() if first.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
    assert night_complete(out / DATE)
    after = run(*night_run(SAMPLE_LANDING, out), env=environment(state_url, SAFELINK_LOCK_WAIT_S="1"))
    assert after.returncode == EXIT_OK, after.stderr  # once the first is done, the lock is free


def test_second_run_waits_for_the_first_to_finish_within_the_wait(tmp_path: Path, state_url: str) -> None:
    holder_has_it, release = threading.Event(), threading.Event()

    def holder() -> None:
        with run_lock(tmp_path, state_url, wait_s=0):
            holder_has_it.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holder_has_it.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    with run_lock(tmp_path, state_url, wait_s=30):
        waited = time.monotonic() - started
    thread.join()
    assert 0.5 < waited < 30


def test_concurrent_schema_upgrades_on_a_fresh_database(state_url: str) -> None:
    from alembic.script import ScriptDirectory

    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            open_state(state_url).dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = open_state(state_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert versions == [ScriptDirectory.from_config(alembic_config(state_url)).get_current_head()]


# --- row 6: person data owner-only ------------------------------------------------------------------

def _modes(root: Path) -> dict[Path, int]:
    return {p: stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


@pytest.mark.slow
def test_every_file_a_run_creates_is_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safelink.pipeline import Night, run_night

    monkeypatch.delenv("SAFELINK_STATE_URL", raising=False)
    monkeypatch.delenv("SAFELINK_SMTP_HOST", raising=False)
    before = os.umask(0o022)  # a typical login umask: the run must not depend on it
    try:
        run_night(Night(landing=SAMPLE_LANDING, output=tmp_path / "out", extract_date=SAMPLE_DATE))
        assert os.umask(0o022) == 0o022  # the run restored the process umask
    finally:
        os.umask(before)
    modes = _modes(tmp_path / "out")
    for name in ("state.sqlite", f"{DATE}/person_links.csv", f"{DATE}/findings.csv", f"{DATE}/report.html",
                 f"{DATE}/checks/quarantine.csv", f"{DATE}/review/review_pairs.csv", f"{DATE}/landing/people.parquet"):
        assert tmp_path / "out" / name in modes, name
    assert list((tmp_path / "out" / DATE / "outbox").glob("*.eml"))
    loose = {str(p.relative_to(tmp_path)): oct(m) for p, m in modes.items() if m & 0o077}
    assert loose == {}


@pytest.mark.slow
def test_file_group_setting_shares_read_only_with_that_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safelink.pipeline import Night, run_night

    group = next(g for g in grp.getgrall() if g.gr_gid != os.getgid())
    monkeypatch.setenv("SAFELINK_FILE_GROUP", group.gr_name)
    monkeypatch.delenv("SAFELINK_STATE_URL", raising=False)
    monkeypatch.delenv("SAFELINK_SMTP_HOST", raising=False)
    out = tmp_path / "out"
    run_night(Night(landing=SAMPLE_LANDING, output=out, extract_date=SAMPLE_DATE))
    for path, mode in _modes(out / DATE).items():
        assert mode & 0o027 == 0, (path, oct(mode))  # group never writes, others nothing
        assert mode & 0o040, (path, oct(mode))  # group reads
        assert path.stat().st_gid == group.gr_gid, path


# --- row 7: temporary names, the completion marker, kill -9 -------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["landing/sources/gp/status.json", "findings.parquet"])
def test_kill_9_mid_rerun_leaves_a_night_every_reader_refuses_until_rerun(tmp_path: Path, kill_after: str) -> None:
    out = tmp_path / "out"
    env = environment()
    first = run(*night_run(SAMPLE_LANDING, out), env=env)
    assert first.returncode == EXIT_OK, first.stderr
    night = out / DATE
    links_before = (night / "person_links.csv").read_bytes()
    marked = read_review_csv(night / "review" / "review_pairs.csv")
    marked[0]["decision"] = "match"
    review = write_review_csv(tmp_path / "marked.csv", marked)

    (night / kill_after).unlink()  # so that its reappearance shows the rerun has got that far
    rerun = start(*night_run(SAMPLE_LANDING, out), env=env)
    wait_for(lambda: (night / kill_after).exists(), rerun, kill_after)
    os.kill(rerun.pid, signal.SIGKILL)
    rerun.wait(timeout=60)

    assert not (night / COMPLETE_MARKER).exists()
    for parquet in night.rglob("*.parquet"):  # whatever is under a final name is whole
        pl.read_parquet(parquet)
    scored = run("score", "--truth", SAMPLE_LANDING / "truth", "--run", night, env=env)
    assert scored.returncode == EXIT_NOT_READY
    [line] = error_lines(scored.stderr)
    assert line.startswith(f"error: {night} is not a complete night (no {COMPLETE_MARKER} marker")
    imported = run("review", "import", review, "--output", out, "--reviewer", "Dr A", env=env)
    assert imported.returncode == EXIT_NOT_READY and len(error_lines(imported.stderr)) == 1

    again = run(*night_run(SAMPLE_LANDING, out), env=env)
    assert again.returncode == EXIT_OK, again.stderr
    assert night_complete(night)
    assert not [p for p in night.rglob(".*.tmp-*")]
    assert (night / "person_links.csv").read_bytes() == links_before
    assert run("score", "--truth", SAMPLE_LANDING / "truth", "--run", night, env=env).returncode == EXIT_OK
    assert run("review", "import", review, "--output", out, "--reviewer", "Dr A", env=env).returncode == EXIT_OK


# --- row 8: an earlier night after a later one --------------------------------------------------------

def test_night_dates_are_plain_dates_at_the_boundary() -> None:
    import pendulum

    from safelink.pipeline import Night

    night = Night(landing=Path("l"), output=Path("o"), extract_date=pendulum.date(2026, 11, 25))
    assert type(night.extract_date) is dt.date and night.extract_date == dt.date(2026, 11, 25)


def _mapping(url: str) -> list[tuple[str, str, str]]:
    engine = open_state(url)
    with Session(engine) as session:
        rows = session.execute(select(LinkageRecordPerson.source, LinkageRecordPerson.record_id,
                                      LinkageRecordPerson.person_id).order_by(LinkageRecordPerson.source,
                                                                              LinkageRecordPerson.record_id))
        out = [tuple(r) for r in rows]
    engine.dispose()
    return out  # type: ignore[return-value]


def test_persist_ids_refuses_an_earlier_night_and_changes_nothing(state_url: str) -> None:
    records = pl.DataFrame({"source": ["hv", "gp", "tp"], "record_id": ["1", "2", "3"], "cluster": [0, 0, 1]})
    later, earlier = dt.date(2026, 11, 26), dt.date(2026, 11, 25)
    first, _ = persist_ids(state_url, records, later)
    before = _mapping(state_url)
    with pytest.raises(OutOfOrderNight, match="night 2026-11-25 is earlier than 2026-11-26"):
        persist_ids(state_url, records.with_columns(pl.Series("cluster", [0, 1, 2])), earlier)
    assert _mapping(state_url) == before
    again, _ = persist_ids(state_url, records, later)  # the same night again is an ordinary rerun
    assert again.get_column("person_id").to_list() == first.get_column("person_id").to_list()


@pytest.mark.slow
def test_rerunning_an_earlier_night_after_a_later_one_is_refused_in_one_line(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    later = SAMPLE_DATE + dt.timedelta(days=1)
    copy_drop(landing, SAMPLE_DATE)
    copy_drop(landing, later)
    out = tmp_path / "out"
    env = environment()
    for date in (DATE, later.isoformat()):
        done = run(*night_run(landing, out, date), env=env)
        assert done.returncode == EXIT_OK, done.stderr
    url = f"sqlite:///{(out / 'state.sqlite').resolve()}"
    ids_before = _mapping(url)
    earlier_files = {p: p.read_bytes() for p in (out / DATE).rglob("*") if p.is_file()}
    refused = run(*night_run(landing, out, DATE), env=env)
    assert refused.returncode == EXIT_CONFIG
    [line] = error_lines(refused.stderr)
    assert line.startswith(f"error: night {DATE} is earlier than {later.isoformat()}, the latest night already linked")
    assert _mapping(url) == ids_before
    assert {p: p.read_bytes() for p in (out / DATE).rglob("*") if p.is_file()} == earlier_files
    assert night_complete(out / later.isoformat())


def test_report_history_leaves_out_nights_whose_run_did_not_finish(tmp_path: Path) -> None:
    from ground.outputs import mark_complete
    from report.inputs import sibling_nights

    for day in ("2026-11-22", "2026-11-23", "2026-11-24"):
        (tmp_path / day).mkdir()
    mark_complete(tmp_path / "2026-11-22", {})
    mark_complete(tmp_path / "2026-11-24", {})
    nights = sibling_nights(tmp_path / "2026-11-25", dt.date(2026, 11, 25))
    assert [d.isoformat() for d, _ in nights] == ["2026-11-22", "2026-11-24"]
