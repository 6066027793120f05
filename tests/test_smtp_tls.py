"""Row 1 of issue #15: TLS is verified, and a password never travels in clear (real aiosmtpd servers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import send_digests, send_failure_notice
from alerts.smtp import SmtpConfigError, SmtpSettings, load_smtp_settings
from alerts.state_tables import AlertMessage
from ground.state import open_state
from tests import test_alerts_helpers as helpers
from tests.helpers.tls import Pki, TlsSmtpServer, start_tls_server
from tests.test_alerts_helpers import NIGHT1, TEST_DOMAIN, base_findings, start_server, write_night

config_dir = helpers.config_dir
sqlite_url = helpers.sqlite_url

USER = f"app@{TEST_DOMAIN}"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


def _settings(server: TlsSmtpServer, security: str = "starttls", **extra: object) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=server.port, security=security, user=USER, password=PASSWORD,
                        from_address=f"safelink@{TEST_DOMAIN}", timeout=5, helo_name="localhost", **extra)


def _errors(url: str) -> set[str | None]:
    engine = open_state(url)
    with Session(engine) as session:
        errors = {m.last_error for m in session.scalars(select(AlertMessage))}
    engine.dispose()
    return errors


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_self_signed_certificate_for_another_host_gets_no_password_and_no_mail(
        tmp_path: Path, config_dir: Path, sqlite_url: str, pki: Pki, security: str) -> None:
    server = start_tls_server(pki.self_signed("impostor", ["mail.elsewhere.example"]), implicit=security == "ssl",
                              credentials=(USER, PASSWORD))
    try:
        night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
        result = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=_settings(server, security))
        assert (result.sent, result.failed, result.still_queued) == (0, 1, 8)
        assert server.logins == [] and server.handler.messages == []
    finally:
        server.stop()
    [error] = _errors(sqlite_url) - {None}
    assert error is not None and error.startswith("TLS certificate refused (") and "nothing was sent" in error


def test_certificate_from_a_trusted_ca_but_for_another_host_is_refused(
        tmp_path: Path, config_dir: Path, sqlite_url: str, pki: Pki) -> None:
    server = start_tls_server(pki.server("wrong-host", ["mail.elsewhere.example"]), credentials=(USER, PASSWORD))
    try:
        night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
        result = send_digests(night_dir, config_dir, sqlite_url, NIGHT1,
                              smtp=_settings(server, ca_file=pki.ca.cert if pki.ca else None))
        assert (result.sent, result.still_queued) == (0, 8)
        assert server.logins == [] and server.handler.messages == []
    finally:
        server.stop()
    [error] = _errors(sqlite_url) - {None}
    assert error is not None and "address mismatch" in error and "SAFELINK_SMTP_HOST" in error


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_certificate_for_this_host_from_the_configured_ca_delivers(
        tmp_path: Path, config_dir: Path, sqlite_url: str, pki: Pki, security: str) -> None:
    server = start_tls_server(pki.server("mail", ["127.0.0.1", "localhost"]), implicit=security == "ssl",
                              credentials=(USER, PASSWORD))
    try:
        night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
        result = send_digests(night_dir, config_dir, sqlite_url, NIGHT1,
                              smtp=_settings(server, security, ca_file=pki.ca.cert if pki.ca else None))
        assert (result.sent, result.still_queued) == (8, 0)
        assert server.logins == [(USER, PASSWORD)]  # one connection, one login, over TLS
        assert len(server.handler.messages) == 8
    finally:
        server.stop()


def test_server_without_starttls_gets_nothing_in_clear(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    plain = start_server()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=plain.port, security="starttls", user=USER, password=PASSWORD,
                                from_address=f"safelink@{TEST_DOMAIN}", timeout=5)
        night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
        result = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=settings)
        assert (result.sent, result.still_queued) == (0, 8) and plain.handler.messages == []
    finally:
        plain.controller.stop()
    assert _errors(sqlite_url) - {None} == {"the server does not offer STARTTLS: nothing was sent in clear"}


def test_failure_notice_is_not_sent_to_an_unverified_server(tmp_path: Path, config_dir: Path, pki: Pki) -> None:
    server = start_tls_server(pki.self_signed("impostor", ["mail.elsewhere.example"]), credentials=(USER, PASSWORD))
    try:
        send_failure_notice(config_dir, "safeguarding_nightly", "link", "2026-11-25", "boom", "",
                            smtp=_settings(server), output_dir=tmp_path / "out")
        assert server.logins == [] and server.handler.messages == []
    finally:
        server.stop()
    assert len(list((tmp_path / "out" / "outbox").glob("failure_*.eml"))) == 1  # kept, not lost


def test_password_over_plain_smtp_needs_an_explicit_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {"HOST": "mail.example.org", "SECURITY": "none", "USER": USER, "PASSWORD": PASSWORD}.items():
        monkeypatch.setenv(f"SAFELINK_SMTP_{name}", value)
    with pytest.raises(SmtpConfigError, match="would send the SMTP password unencrypted") as caught:
        load_smtp_settings()
    assert PASSWORD not in str(caught.value)
    monkeypatch.setenv("SAFELINK_SMTP_ALLOW_INSECURE_AUTH", "true")
    assert load_smtp_settings().allow_insecure_auth is True


def test_ca_file_and_claim_timeout_are_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFELINK_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("SAFELINK_SMTP_CA_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(SmtpConfigError, match=r"SAFELINK_SMTP_CA_FILE .* is not a file"):
        load_smtp_settings()
    monkeypatch.delenv("SAFELINK_SMTP_CA_FILE")
    monkeypatch.setenv("SAFELINK_SMTP_CLAIM_TIMEOUT", "10")
    with pytest.raises(SmtpConfigError, match="at least three times SAFELINK_SMTP_TIMEOUT"):
        load_smtp_settings()
