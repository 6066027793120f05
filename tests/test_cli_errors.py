"""The ``safelink`` command as an operator meets it: one line per error with the fix, and its exit status.

Each case runs the real command in a subprocess (rows 2 and 12 of issue #15).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from ground.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_NOT_READY, EXIT_OK, EXIT_UNDELIVERED
from tests.conftest import CONFIG_DIR, ROOT, SAMPLE_DATE, SAMPLE_LANDING
from tests.test_alerts_helpers import free_port, start_server

DATE = SAMPLE_DATE.isoformat()


def safelink(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``safelink`` with this worktree's code; the environment holds no SMTP or state settings unless given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFELINK_")}
    clean |= {"PYTHONPATH": str(ROOT), "COLUMNS": "300"} | (env or {})
    return subprocess.run([sys.executable, "-m", "safelink.cli", *map(str, args)], capture_output=True, text=True,
                          env=clean, timeout=900, check=False)


def one_line(stderr: str) -> str:
    """The command's only stderr line (the structured log goes to the debug log when the console is quiet)."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith(("error:", "warning:"))]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


def config_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, folder)
    return folder


def test_missing_landing_folder_is_one_line_and_leaves_no_night_folder(tmp_path: Path) -> None:
    done = safelink("run", "--landing", tmp_path / "nowhere", "--date", DATE, "--output", tmp_path / "out")
    assert done.returncode == EXIT_NOT_READY
    assert one_line(done.stderr).startswith(f"error: no drop folder for {DATE} under the landing folder")
    assert not (tmp_path / "out" / DATE).exists()


def test_leads_typo_is_found_before_ingest(tmp_path: Path) -> None:
    config = config_copy(tmp_path)
    leads = config / "leads.yaml"
    leads.write_text(leads.read_text(encoding="utf-8").replace("designated_professional:", "designated_profesional:"),
                     encoding="utf-8")
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", tmp_path / "out",
                    "--config", config)
    assert done.returncode == EXIT_CONFIG
    line = one_line(done.stderr)
    assert line.startswith(f"error: configuration: {leads}: invalid configuration")
    assert "designated_profesional" in line and line.endswith("(fix it, then run again; nothing was written)")
    assert not (tmp_path / "out" / DATE).exists()


def test_smtp_settings_error_is_found_before_ingest(tmp_path: Path) -> None:
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", tmp_path / "out",
                    env={"SAFELINK_SMTP_HOST": "mail.example.org", "SAFELINK_SMTP_USER": "app"})
    assert done.returncode == EXIT_CONFIG
    assert "SAFELINK_SMTP_USER must be a full e-mail address" in one_line(done.stderr)
    assert not (tmp_path / "out" / DATE).exists()


def test_output_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder", encoding="utf-8")
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", tmp_path / "out",
                    env={"SAFELINK_DEBUG_LOG": str(tmp_path / "debug.log")})
    assert done.returncode == EXIT_CONFIG
    assert str(tmp_path / "out") in one_line(done.stderr)


def test_unreachable_state_database_is_one_line_and_the_traceback_goes_to_the_debug_log(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{free_port()}/nothing"
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", tmp_path / "out",
                    env={"SAFELINK_STATE_URL": url})
    assert done.returncode == EXIT_FAILED
    line = one_line(done.stderr)
    assert line.startswith("error: state database error (OperationalError): check SAFELINK_STATE_URL")
    debug = (tmp_path / "out" / "logs" / "debug.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in debug and "OperationalError" in debug
    assert "s3cret" not in debug and "s3cret" not in done.stderr
    assert oct((tmp_path / "out" / "logs" / "debug.log").stat().st_mode & 0o777) == "0o600"


def test_review_import_of_a_wrong_file_is_one_line(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text('a,b\n1,"unterminated\n', encoding="utf-8")
    done = safelink("review", "import", other, "--output", tmp_path / "out", "--reviewer", "Dr A")
    assert done.returncode == EXIT_CONFIG
    assert one_line(done.stderr).startswith("error: other.csv is not a review file: missing columns")


@pytest.mark.slow
def test_closed_smtp_port_warns_with_the_count_and_exits_3_until_retry_delivers(tmp_path: Path) -> None:
    config = config_copy(tmp_path)
    leads = config / "leads.yaml"
    leads.write_text(leads.read_text(encoding="utf-8").replace("demo_addresses: true", "demo_addresses: false"),
                     encoding="utf-8")
    port = free_port()  # nothing listens: connection refused
    env = {"SAFELINK_SMTP_HOST": "127.0.0.1", "SAFELINK_SMTP_PORT": str(port), "SAFELINK_SMTP_SECURITY": "none",
           "SAFELINK_SMTP_FROM": "safelink@nhs.net", "SAFELINK_SMTP_TIMEOUT": "5"}
    out = tmp_path / "out"
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", out, "--config", config, env=env)
    assert done.returncode == EXIT_UNDELIVERED, done.stderr
    line = one_line(done.stderr)
    summary = pl.read_json(out / DATE / "run_summary.json")
    queued = summary.get_column("stages").struct.field("send").struct.field("still_queued").item()
    assert queued > 1
    assert line == (f"warning: {queued} message(s) not delivered, still queued (last error: connection refused): "
                    f"the next run sends them, or run `safelink retry --output {out}` once the mail server is "
                    "reachable")
    still_down = safelink("retry", "--output", out, "--config", config, env=env)
    assert still_down.returncode == EXIT_UNDELIVERED
    assert one_line(still_down.stderr).startswith(f"warning: {queued} message(s) still queued")
    server = start_server(port)
    try:
        back = safelink("retry", "--output", out, "--config", config, env=env)
        assert back.returncode == EXIT_OK, back.stderr
        assert len(server.handler.messages) == queued
    finally:
        server.controller.stop()


@pytest.mark.slow
def test_progress_display_per_stage_instead_of_library_log_lines(tmp_path: Path) -> None:
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", tmp_path / "out", "--progress")
    assert done.returncode == EXIT_OK, done.stderr
    for stage in ("configuration", "wait", "ingest_hv", "combine", "link", "detect", "send", "report"):
        assert f"{stage} done" in done.stderr, stage
    assert "level=info" not in done.stderr  # library INFO lines went to the debug log only
    debug = (tmp_path / "out" / "logs" / "debug.log").read_text(encoding="utf-8")
    assert 'msg="stage done" stage=link' in debug and "duration_s=" in debug


def test_broken_sharing_matrix_is_found_before_any_night_folder_is_written(tmp_path: Path) -> None:
    config = config_copy(tmp_path)
    sharing = config / "sharing.yaml"
    sharing.write_text(sharing.read_text(encoding="utf-8").replace("  cumulative_concern:", "  cumulative_concrn:", 1),
                       encoding="utf-8")
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", tmp_path / "out",
                    "--config", config)
    assert done.returncode == EXIT_CONFIG
    line = one_line(done.stderr)
    assert line.startswith(f"error: configuration: {sharing}: ")
    assert "cumulative_concrn" in line and line.endswith("(fix it, then run again; nothing was written)")
    assert not (tmp_path / "out" / DATE).exists()


def test_serve_errors_are_one_line(tmp_path: Path) -> None:
    nowhere = safelink("serve", "--output", tmp_path / "nowhere")
    assert nowhere.returncode == EXIT_CONFIG
    assert one_line(nowhere.stderr) == (f"error: {tmp_path / 'nowhere'} is not a folder: give the deployment's output "
                                        "folder (where `safelink run` writes its nights)")
    assert not (tmp_path / "nowhere").exists()

    out = tmp_path / "out"
    out.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = safelink("serve", "--output", out, "--port", str(port))
    assert busy.returncode == EXIT_CONFIG
    assert one_line(busy.stderr).startswith(f"error: cannot listen on 127.0.0.1:{port} (Address already in use): ")

    config = config_copy(tmp_path)
    leads = config / "leads.yaml"
    leads.write_text(leads.read_text(encoding="utf-8").replace("designated_professional:", "designated_profesional:"),
                     encoding="utf-8")
    broken = safelink("serve", "--output", out, "--port", str(free_port()), "--config", config)
    assert broken.returncode == EXIT_CONFIG
    assert one_line(broken.stderr).startswith(f"error: configuration: {leads}: invalid configuration")


def test_users_add_errors_are_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()

    def add(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFELINK_")}
        return subprocess.run([sys.executable, "-m", "safelink.cli", "users", "add", *args],
                              input="a long passphrase\n", capture_output=True, text=True,
                              env=clean | {"PYTHONPATH": str(ROOT)} | (env or {}), timeout=300, check=False)

    role = add("dr.a@nhs.net", "--role", "admiral", "--output", str(out))
    assert role.returncode == EXIT_CONFIG
    assert one_line(role.stderr) == "error: role must be one of lead, designated, engineer"

    setting = add("dr.a@nhs.net", "--role", "engineer", "--output", str(out),
                  env={"SAFELINK_CASE_VIEW_MIN_PASSWORD_LENGTH": "many"})
    assert setting.returncode == EXIT_CONFIG
    assert one_line(setting.stderr).startswith("error: environment setting SAFELINK_CASE_VIEW_MIN_PASSWORD_LENGTH: ")

    url = f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{free_port()}/nothing"
    database = add("dr.a@nhs.net", "--role", "engineer", "--output", str(out), env={"SAFELINK_STATE_URL": url})
    assert database.returncode == EXIT_FAILED
    assert one_line(database.stderr).startswith("error: state database error (OperationalError): ")
    assert "s3cret" not in database.stderr

    nowhere = add("dr.a@nhs.net", "--role", "engineer", "--output", str(tmp_path / "nowhere"))
    assert nowhere.returncode == EXIT_CONFIG
    assert "is not a folder" in one_line(nowhere.stderr)

    done = add("dr.a@nhs.net", "--role", "engineer", "--output", str(out))
    assert done.returncode == EXIT_OK, done.stderr
    assert "account added: dr.a@nhs.net (engineer)" in done.stdout + done.stderr


@pytest.mark.slow
def test_a_failed_report_section_fails_the_run_in_one_line_naming_it(tmp_path: Path) -> None:
    from ground.outputs import mark_complete

    out = tmp_path / "out"
    past = out / (SAMPLE_DATE - dt.timedelta(days=1)).isoformat()
    (past / "landing").mkdir(parents=True)
    pl.DataFrame({"x": [1]}).write_parquet(past / "landing" / "files.parquet")  # written by another version
    mark_complete(past, {})
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", out)
    assert done.returncode == EXIT_FAILED, done.stderr
    assert one_line(done.stderr).startswith("error: report: section(s) failed: trends (ColumnNotFoundError); "
                                            "report.html was written without them and names them at the top")
    assert 'id="sections-failed"' in (out / DATE / "report.html").read_text(encoding="utf-8")
    assert (out / DATE / "findings.csv").is_file() and not (out / DATE / "_COMPLETE").exists()
