"""Issue #15 row 17: a rerun keeps the night's send figures, the failure mail shows the extract date, and
library lines are logged at their true level (recordlinkage's INFO lines used to reach Airflow as errors)."""

from __future__ import annotations

import email
import email.policy
import io
import logging
from pathlib import Path

import pytest

from alerts import send_failure_notice
from alerts.smtp import SmtpSettings
from ground.logs import adopt_library_loggers, install_redaction
from safelink.pipeline import Night, stage_send
from tests import test_alerts_helpers as helpers
from tests.test_alerts_helpers import NIGHT1, base_findings, write_night

config_dir = helpers.config_dir
sqlite_url = helpers.sqlite_url


def test_a_rerun_keeps_the_nights_send_figures(tmp_path: Path, config_dir: Path, sqlite_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SAFELINK_SMTP_HOST", "SAFELINK_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    write_night(tmp_path / "out", NIGHT1, base_findings())
    night = Night(landing=tmp_path / "landing", output=tmp_path / "out", extract_date=NIGHT1,
                  config_dir=config_dir, state_url=sqlite_url)

    first = stage_send(night)
    rerun = stage_send(night)

    figures = ("findings", "routed", "new", "updated", "no_longer_found", "digests_built", "written", "sent")
    assert {k: first[k] for k in figures} == {"findings": 4, "routed": 4, "new": 4, "updated": 0,
                                              "no_longer_found": 0, "digests_built": 7, "written": 8, "sent": 0}
    assert {k: rerun[k] for k in figures} == {k: first[k] for k in figures}  # not all zeros
    assert (first["already_built"], rerun["already_built"]) == (0, 1)
    assert (first["written_this_run"], rerun["written_this_run"]) == (8, 0)  # the rerun wrote nothing again
    assert rerun["still_queued"] == 0 and rerun["night_still_queued"] == 0


def test_failure_mail_shows_the_extract_date_and_still_masks_other_dates(tmp_path: Path, config_dir: Path) -> None:
    send_failure_notice(config_dir, "safeguarding_nightly", "check_drop", "2026-11-26",
                        "DropIncomplete: no drop folder for 2026-11-26 (born 2015-01-03, NHS 943 476 5919)",
                        "http://airflow.local/log/1", smtp=SmtpSettings(host=""), output_dir=tmp_path)
    (eml,) = (tmp_path / "outbox").iterdir()
    body = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default).get_content()
    assert "DropIncomplete: no drop folder for 2026-11-26 (born [date], NHS [nhs-number])" in body
    assert "Run date: 2026-11-26" in body
    assert "2015-01-03" not in body and "943 476 5919" not in body


@pytest.fixture
def root_capture() -> object:
    """A root handler like Airflow's (records at their level), removed afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level, others = root.level, list(root.handlers)
    for other in others:  # handlers an earlier test in this worker left (their streams may be closed)
        root.removeHandler(other)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    for other in others:
        root.addHandler(other)
    root.setLevel(level)


def test_recordlinkage_lines_reach_the_hosts_handlers_at_their_level_not_stderr(
        root_capture: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    from recordlinkage import rl_logging

    logger = logging.getLogger("recordlinkage")
    own = [h for h in logger.handlers]
    try:
        install_redaction()  # what every task does first (safelink_dag_support.night)
        assert logger.handlers == []
        rl_logging.info("comparing [1/?] - pairs: 37")
        rl_logging.warning("index has 3 duplicates")
        out = capsys.readouterr()
        assert "recordlinkage" not in out.err and "recordlinkage" not in out.out  # Airflow logs stderr as error
        assert root_capture.getvalue().splitlines() == ["WARNING recordlinkage index has 3 duplicates"]
    finally:
        for handler in own:
            logger.addHandler(handler)


def test_adopting_library_loggers_is_idempotent_and_keeps_file_handlers(tmp_path: Path) -> None:
    logger = logging.getLogger("great_expectations")
    file_handler = logging.FileHandler(tmp_path / "gx.log")
    logger.addHandler(file_handler)
    try:
        adopt_library_loggers()
        adopt_library_loggers()
        assert file_handler in logger.handlers and logger.level == logging.WARNING and logger.propagate
    finally:
        logger.removeHandler(file_handler)
        file_handler.close()
