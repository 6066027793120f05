"""Digests due by 07:00: the check the safeguarding_digests_due DAG runs (issue #15 row 14), on real nights."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safelink.pipeline import DigestsLate, Night, run_night, stage_check_delivered
from tests.conftest import SAMPLE_DATE, SAMPLE_LANDING
from tests.test_alerts_helpers import free_port
from tests.test_cli_errors import config_copy

pytestmark = pytest.mark.slow


def test_a_night_whose_digests_all_went_passes(tmp_path: Path) -> None:
    night = Night(landing=SAMPLE_LANDING, output=tmp_path / "out", extract_date=SAMPLE_DATE)
    summary = run_night(night)  # no SMTP host: every message is written to the outbox

    counts = stage_check_delivered(night)

    written = len(list((night.night_dir / "outbox").glob("*.eml")))
    assert counts == {"built": 1, "queued": 0, "sending": 0, "sent": 0, "written": written, "complete": 1}
    assert written == summary.stages["send"]["written"] > 0

    later = Night(landing=SAMPLE_LANDING, output=tmp_path / "out", extract_date=SAMPLE_DATE + dt.timedelta(days=1))
    with pytest.raises(DigestsLate) as late:
        stage_check_delivered(later)
    assert str(late.value) == ("digests for 2026-11-26 not sent by 07:00: the night never reached the send stage "
                               "(night complete: no); see the nightly run's failure, fix it and run the night")


def test_messages_still_queued_at_the_due_time_fail_the_check(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_copy(tmp_path)
    leads = config / "leads.yaml"
    leads.write_text(leads.read_text(encoding="utf-8").replace("demo_addresses: true", "demo_addresses: false"),
                     encoding="utf-8")
    for name, value in {"SAFELINK_SMTP_HOST": "127.0.0.1", "SAFELINK_SMTP_PORT": str(free_port()),
                        "SAFELINK_SMTP_SECURITY": "none", "SAFELINK_SMTP_FROM": "safelink@nhs.net",
                        "SAFELINK_SMTP_TIMEOUT": "5"}.items():
        monkeypatch.setenv(name, value)  # nothing listens on the port: every message stays queued
    night = Night(landing=SAMPLE_LANDING, output=tmp_path / "out", extract_date=SAMPLE_DATE, config_dir=config)
    queued = run_night(night).undelivered
    assert queued > 0

    with pytest.raises(DigestsLate) as late:
        stage_check_delivered(night, "06:30")
    assert str(late.value) == (f"digests for 2026-11-25 not sent by 06:30: {queued} message(s) still queued; run "
                               "`safelink retry --output <output>` once the mail server is reachable")


def test_check_delivered_command_for_cron_deployments(tmp_path: Path) -> None:
    from ground.exit_codes import EXIT_OK, EXIT_UNDELIVERED
    from tests.test_cli_errors import one_line, safelink

    out = tmp_path / "out"
    assert safelink("run", "--landing", SAMPLE_LANDING, "--date", SAMPLE_DATE.isoformat(), "--output", out
                    ).returncode == EXIT_OK
    sent = safelink("check-delivered", "--output", out, "--date", SAMPLE_DATE.isoformat())
    assert sent.returncode == EXIT_OK, sent.stderr
    assert f"digests for {SAMPLE_DATE} all delivered: sent 0, written " in sent.stdout + sent.stderr
    late = safelink("check-delivered", "--output", out, "--date", "2026-11-26")
    assert late.returncode == EXIT_UNDELIVERED
    assert one_line(late.stderr) == ("warning: digests for 2026-11-26 not sent by 07:00: the night never reached the "
                                     "send stage (night complete: no); see the nightly run's failure, fix it and "
                                     "run the night")
