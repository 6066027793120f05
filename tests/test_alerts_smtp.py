"""Delivery over a real SMTP server (aiosmtpd on 127.0.0.1), and recovery from every kind of failure."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import retry_outbox, send_digests, send_failure_notice
from alerts.smtp import SmtpConfigError, SmtpSettings, load_smtp_settings
from alerts.state_tables import AlertAudit, AlertMessage
from ground.state import open_state
from tests import test_alerts_helpers as helpers
from tests.test_alerts_helpers import (
    NIGHT1,
    NIGHT2,
    PEOPLE,
    TEST_DOMAIN,
    SilentServer,
    SmtpServer,
    base_findings,
    free_port,
    start_server,
    write_night,
)

config_dir = helpers.config_dir
sqlite_url = helpers.sqlite_url
smtp_server = helpers.smtp_server

HV = f"hv-chester@{TEST_DOMAIN}"
ALL_RECIPIENTS = {f"{k}@{TEST_DOMAIN}" for k in ("hv-chester", "hv-team", "sn-vr", "camhs", "gp-vr", "tp", "amh",
                                                 "designated")}


def _subjects(server: SmtpServer) -> list[str]:
    return [str(m["Subject"]) for m in server.handler.messages]


def _body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None, f"no text/{kind} part"
    return str(part.get_content())


def _assert_no_pii_in_subject(subject: str) -> None:
    for source, record_id, forename, surname, nhs in PEOPLE:
        for value in (forename, surname, record_id, nhs or "-", source):
            assert value.lower() not in subject.lower().split(), (value, subject)
    for word in ("Turning Point", "mental health", "CAMHS", "substance", "HV", "Chester"):
        assert word.lower() not in subject.lower()
    assert re.fullmatch(r"Safeguarding linkage (digest|daily summary) 2026-11-2\d(: \d+ new, \d+ updated"
                        r"(, \d+ no longer found)?(, \d+ moved)?)?", subject), subject


def test_digests_delivered_routed_grouped(tmp_path: Path, config_dir: Path, sqlite_url: str,
                                          smtp_server: SmtpServer) -> None:
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    result = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=smtp_server.settings())
    assert result.sent == 8 and result.failed == 0 and result.still_queued == 0
    assert not (night_dir / "outbox").exists()
    handler = smtp_server.handler
    assert {r for _, rcpts in handler.envelopes for r in rcpts} == ALL_RECIPIENTS
    assert all(sender == f"safelink@{TEST_DOMAIN}" for sender, _ in handler.envelopes)
    for subject in _subjects(smtp_server):
        _assert_no_pii_in_subject(subject)

    [hv] = handler.to(HV)
    assert hv["Subject"] == "Safeguarding linkage digest 2026-11-25: 2 new, 0 updated"
    assert hv["From"] == f"safelink@{TEST_DOMAIN}" and hv["To"] == HV
    assert hv["Message-ID"] and hv["Date"] and hv.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in hv.iter_parts()] == ["text/plain", "text/html"]
    text, html = _body(hv, "plain"), _body(hv, "html")
    for body in (text, html):
        # grouped by rule, opaque references, initials, masked NHS number, source record ids
        assert body.index("Significant adult") < body.index("Repeated missed appointments")
        assert "F-SA-1" in body and "F-RNA-1" in body and "F-UI-1" not in body
        assert "S.S." in body and "*** *** 3305" in body and "Your record: 104500" in body
        assert "Check first" in body and "81.0%" in body and "Next step:" in body
        assert "9997643305" not in body and "Sebastian" not in body and "Santos" not in body
    # the unknown HV team goes to the catch-all lead only
    [catch_all] = handler.to(f"hv-team@{TEST_DOMAIN}")
    assert "F-RNA-2" in _body(catch_all, "plain") and "F-RNA-1" not in _body(catch_all, "plain")
    # the designated professional gets counts only
    [summary] = handler.to(f"designated@{TEST_DOMAIN}")
    summary_text = _body(summary, "plain") + _body(summary, "html")
    assert "Findings open tonight: 4" in _body(summary, "plain")
    assert not any(token in summary_text for token in ("F-", "S.S.", "***", "104500"))


def test_second_night_only_changes_then_no_longer_found(tmp_path: Path, config_dir: Path, state_url: str,
                                                        smtp_server: SmtpServer) -> None:
    out = tmp_path / "out"
    settings = smtp_server.settings()
    send_digests(write_night(out, NIGHT1, base_findings()), config_dir, state_url, NIGHT1, smtp=settings)
    handler = smtp_server.handler
    handler.messages.clear()
    handler.envelopes.clear()
    findings = base_findings()
    findings[0]["evidence_fingerprint"] = "fp2"  # F-RNA-1 changed
    findings = [f for f in findings if f["finding_id"] != "F-UI-1"]  # F-UI-1 gone
    send_digests(write_night(out, NIGHT2, findings), config_dir, state_url, NIGHT2, smtp=settings)
    recipients = {r for _, rcpts in handler.envelopes for r in rcpts}
    assert recipients == {HV, f"gp-vr@{TEST_DOMAIN}", f"sn-vr@{TEST_DOMAIN}", f"camhs@{TEST_DOMAIN}",
                          f"designated@{TEST_DOMAIN}"}
    [hv] = handler.to(HV)
    assert hv["Subject"] == "Safeguarding linkage digest 2026-11-26: 0 new, 1 updated"
    assert "F-RNA-1" in _body(hv, "plain") and "F-SA-1" not in _body(hv, "plain")
    [sn] = handler.to(f"sn-vr@{TEST_DOMAIN}")
    assert sn["Subject"] == "Safeguarding linkage digest 2026-11-26: 0 new, 0 updated, 1 no longer found"
    assert "No longer found" in _body(sn, "html") and "F-UI-1" in _body(sn, "html")


def test_server_down_then_retry_delivers_exactly_once(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    port = free_port()
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", from_address=f"safelink@{TEST_DOMAIN}",
                            timeout=5)
    down = send_digests(night_dir, config_dir, state_url, NIGHT1, smtp=settings)
    assert down.sent == 0 and down.failed == 1 and down.still_queued == 8  # stops at the first connection failure
    server = start_server(port)
    try:
        rerun = send_digests(night_dir, config_dir, state_url, NIGHT1, smtp=settings)  # same night: resend queued
        assert rerun.already_built == 1 and rerun.sent == 8 and rerun.still_queued == 0
        again = retry_outbox(tmp_path / "out", config_dir, state_url, smtp=settings)
        assert again.sent == 0
        assert sorted(r for _, rcpts in server.handler.envelopes for r in rcpts) == sorted(ALL_RECIPIENTS)
    finally:
        server.controller.stop()
    engine = open_state(state_url)
    with Session(engine) as session:
        events = [a.event for a in session.scalars(select(AlertAudit).where(AlertAudit.message_pk.is_not(None))
                                                   .order_by(AlertAudit.id))]
        assert events.count("sent") == 8 and events.count("failed") == 1
        assert all(m.status == "sent" for m in session.scalars(select(AlertMessage)))
    engine.dispose()


def test_recipient_rejected_stays_queued_others_delivered(tmp_path: Path, config_dir: Path, sqlite_url: str,
                                                          smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject_rcpt.add(HV)
    settings = smtp_server.settings()
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    first = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=settings)
    assert first.sent == 7 and first.failed == 1 and first.still_queued == 1
    engine = open_state(sqlite_url)
    with Session(engine) as session:
        queued = session.scalars(select(AlertMessage).where(AlertMessage.status == "queued")).one()
        assert queued.recipient == HV and queued.last_error == "recipient refused (550)"
    engine.dispose()
    smtp_server.handler.reject_rcpt.clear()
    retried = retry_outbox(tmp_path / "out", config_dir, sqlite_url, smtp=settings)
    assert retried.sent == 1 and retried.still_queued == 0
    assert len(smtp_server.handler.to(HV)) == 1 and len(smtp_server.handler.messages) == 8
    assert retry_outbox(tmp_path / "out", config_dir, sqlite_url, smtp=settings).sent == 0


def test_connection_dropped_mid_data_then_retry_once(tmp_path: Path, config_dir: Path, sqlite_url: str,
                                                     smtp_server: SmtpServer) -> None:
    smtp_server.handler.drop_data = 1
    settings = smtp_server.settings()
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    first = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=settings)
    assert first.failed == 1 and first.sent == 0 and first.still_queued == 8
    retried = retry_outbox(tmp_path / "out", config_dir, sqlite_url, smtp=settings)
    assert retried.sent == 8 and retried.still_queued == 0
    recipients = [r for _, rcpts in smtp_server.handler.envelopes for r in rcpts]
    assert sorted(recipients) == sorted(ALL_RECIPIENTS)  # each exactly once


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_refused_then_fixed(tmp_path: Path, config_dir: Path, sqlite_url: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(credentials=(f"app@{TEST_DOMAIN}", "right"))
    try:
        monkeypatch.setenv("SAFELINK_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SAFELINK_SMTP_PORT", str(server.port))
        monkeypatch.setenv("SAFELINK_SMTP_SECURITY", "none")
        monkeypatch.setenv("SAFELINK_SMTP_ALLOW_INSECURE_AUTH", "true")  # a test relay on this host
        monkeypatch.setenv("SAFELINK_SMTP_USER", f"app@{TEST_DOMAIN}")
        monkeypatch.setenv("SAFELINK_SMTP_PASSWORD", "wrong")
        night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
        first = send_digests(night_dir, config_dir, sqlite_url, NIGHT1)
        assert first.sent == 0 and first.failed == 1 and first.still_queued == 8
        monkeypatch.setenv("SAFELINK_SMTP_PASSWORD", "right")
        retried = retry_outbox(tmp_path / "out", config_dir, sqlite_url)
        assert retried.sent == 8
        assert {s for s, _ in server.handler.envelopes} == {f"app@{TEST_DOMAIN}"}  # From defaults to the user
        assert len(server.handler.messages) == 8
    finally:
        server.controller.stop()


def test_timeout_stays_queued(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    silent = SilentServer()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=silent.port, security="none",
                                from_address=f"safelink@{TEST_DOMAIN}", timeout=0.5)
        night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
        result = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=settings)
        assert result.failed == 1 and result.still_queued == 8
    finally:
        silent.close()
    engine = open_state(sqlite_url)
    with Session(engine) as session:
        assert {m.last_error for m in session.scalars(select(AlertMessage)) if m.last_error} == {"timed out"}
    engine.dispose()


def test_failure_notice_over_smtp(config_dir: Path, smtp_server: SmtpServer) -> None:
    send_failure_notice(config_dir, "safelink_nightly", "detect", "2026-11-25",
                        "KeyError: 'rule' near 9434765919", "http://airflow.local/log", smtp=smtp_server.settings())
    [msg] = smtp_server.handler.messages
    assert msg["To"] == f"data-eng@{TEST_DOMAIN}"
    assert msg["Subject"] == "Safeguarding linkage pipeline failure: safelink_nightly 2026-11-25"
    body = str(msg.get_content())
    assert "detect" in body and "http://airflow.local/log" in body and "9434765919" not in body


@pytest.mark.parametrize(("env", "message"), [
    ({"SAFELINK_SMTP_USER": "app"}, "full e-mail address"),
    ({"SAFELINK_SMTP_USER": f"app@{TEST_DOMAIN}"}, "without SAFELINK_SMTP_PASSWORD"),
])
def test_smtp_settings_refuse_yagmail_traps(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                            message: str) -> None:
    monkeypatch.setenv("SAFELINK_SMTP_HOST", "smtp.example")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SmtpConfigError, match=message):
        load_smtp_settings()


def test_smtp_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFELINK_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("SAFELINK_SMTP_SECURITY", "ssl")
    monkeypatch.setenv("SAFELINK_SMTP_FROM", f"safelink@{TEST_DOMAIN}")
    settings = load_smtp_settings()
    assert settings.configured and settings.effective_port() == 465 and settings.sender == f"safelink@{TEST_DOMAIN}"
    monkeypatch.setenv("SAFELINK_SMTP_SECURITY", "tls-please")
    with pytest.raises(ValueError, match="none"):
        load_smtp_settings()


@pytest.mark.slow
def test_smtp_settings_from_airflow_connection(tmp_path: Path) -> None:
    """``SAFELINK_SMTP_CONN_ID`` reads an Airflow connection (here from ``AIRFLOW_CONN_*``), in a subprocess."""
    import json
    import os
    import subprocess
    import sys

    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": 2525, "login": f"app@{TEST_DOMAIN}",
            "password": "secret-pw", "extra": {"from_email": f"safelink@{TEST_DOMAIN}", "disable_ssl": True}}
    env = {**os.environ, "AIRFLOW_CONN_SAFELINK_SMTP": json.dumps(conn), "SAFELINK_SMTP_CONN_ID": "safelink_smtp",
           "AIRFLOW_HOME": str(tmp_path / "airflow")}
    code = ("from alerts.smtp import load_smtp_settings; s = load_smtp_settings(); "
            "print(s.host, s.effective_port(), s.user, s.security, s.sender, s.password.get_secret_value())")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent, check=True)
    assert done.stdout.split() == ["127.0.0.1", "2525", f"app@{TEST_DOMAIN}", "starttls", f"safelink@{TEST_DOMAIN}",
                                   "secret-pw"]
