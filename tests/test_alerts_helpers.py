"""Shared helpers for the alerts tests: inline findings/people, a leads config, a real SMTP server, state URLs."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.smtp import SmtpSettings
from tests.helpers.config import config_folder

ROOT = Path(__file__).resolve().parent.parent
TEST_DOMAIN = "safelink.test"
NIGHT1 = dt.date(2026, 11, 25)
NIGHT2 = dt.date(2026, 11, 26)
NIGHT3 = dt.date(2026, 11, 27)

LEADS_YAML = f"""
allowed_recipient_domains: [nhs.net, {TEST_DOMAIN}]
presentation: {{nhs_visible_digits: 4, show_record_ids: true, show_summary: true}}
designated_professional: {{name: Designated Nurse, role: Designated professional, email: designated@{TEST_DOMAIN}}}
data_engineering: {{name: Data engineering, role: On call, email: data-eng@{TEST_DOMAIN}}}
leads:
  hv_chester:
    name: HV Lead Chester
    role: Named nurse
    email: hv-chester@{TEST_DOMAIN}
    covers: {{hv: [Chester Central HV, Chester South HV]}}
  hv_catch_all:
    name: HV safeguarding team
    role: Catch-all
    email: hv-team@{TEST_DOMAIN}
    covers: {{catch_all: [hv]}}
  sn_vale_royal:
    name: SN Lead Vale Royal
    role: Named nurse
    email: sn-vr@{TEST_DOMAIN}
    covers: {{sn: [Vale Royal SN], catch_all: [sn]}}
  camhs:
    name: CAMHS Lead
    role: Named professional
    email: camhs@{TEST_DOMAIN}
    covers: {{services: [camhs]}}
  gp_vale_royal:
    name: Named GP
    role: Named GP
    email: gp-vr@{TEST_DOMAIN}
    covers: {{gp: [N81012]}}
  tp:
    name: TP Lead
    role: Safeguarding lead
    email: tp@{TEST_DOMAIN}
    covers: {{tp: [Chantelle Reid], catch_all: [tp]}}
  amh:
    name: AMH Lead
    role: Safeguarding lead
    email: amh@{TEST_DOMAIN}
    covers: {{amh: [CMHT Vale Royal]}}
"""

PEOPLE = [
    # source, record_id, forename, surname, nhs_number
    ("hv", "104500", "Sebastian", "Santos", "9997643305"),
    ("gp", "23695", "Sebastian", "Santos", "9997643305"),
    ("sn", "295933", "Reuben", "Clark", "9997682025"),
    ("camhs", "RIO8387993", "Reuben", "CLARK", "9997682025"),
    ("tp", "TP17808", "Rachel", "Taylor", None),
    ("amh", "2271649", "Rachel", "Taylor", "9999667007"),
    ("hv", "180096", "Harry", "Wilson", "9999928714"),
]


def finding(fid: str, rule: str, routes: list[str], *, child: list[str] | None = None,
            adult: list[str] | None = None, fingerprint: str = "fp1", needs_confirmation: bool = False,
            confidence: float = 0.97, first_seen: dt.date = NIGHT1, evidence: dict[str, Any] | None = None,
            summary: str = "fired") -> dict[str, Any]:
    """One finding row as the rules stage writes it."""
    return {
        "finding_id": fid, "rule": rule, "rule_version": "1", "child_person_id": "P1" if child else None,
        "adult_person_id": "P2" if adult else None, "first_seen": first_seen, "last_seen": first_seen,
        "status": "new", "evidence": json.dumps(evidence or {"rule": rule, "missed": [
            {"source": "hv", "record_id": "104500", "date": "2026-10-01", "forename": "Sebastian"}]}),
        "evidence_fingerprint": fingerprint, "link_confidence": confidence,
        "needs_confirmation": needs_confirmation, "child_records": child or [], "adult_records": adult or [],
        "routes": routes, "summary": summary,
    }


def base_findings() -> list[dict[str, Any]]:
    """Four findings routed to several leads."""
    return [
        finding("F-RNA-1", "repeated_non_attendance", ["hv:team:Chester Central HV", "gp:practice:N81012"],
                child=["hv:104500", "gp:23695"]),
        finding("F-SA-1", "significant_adult", ["hv:team:Chester Central HV", "tp:team:Chantelle Reid",
                                                 "amh:team:CMHT Vale Royal"],
                child=["hv:104500"], adult=["tp:TP17808", "amh:2271649"], needs_confirmation=True,
                confidence=0.81),
        finding("F-UI-1", "unshared_involvement", ["sn:team:Vale Royal SN", "camhs:team:Vale Royal CAMHS"],
                child=["sn:295933", "camhs:RIO8387993"]),
        finding("F-RNA-2", "repeated_non_attendance", ["hv:team:Brand New HV Team"], child=["hv:180096"]),
    ]


def write_night(output: Path, night: dt.date, findings: list[dict[str, Any]], people: bool = True) -> Path:
    """Write ``findings.parquet`` (and ``landing/people.parquet``) into ``<output>/<night>``."""
    night_dir = output / night.isoformat()
    (night_dir / "landing").mkdir(parents=True, exist_ok=True)
    schema = {"finding_id": pl.String, "rule": pl.String, "rule_version": pl.String,
              "child_person_id": pl.String, "adult_person_id": pl.String, "first_seen": pl.Date,
              "last_seen": pl.Date, "status": pl.String, "evidence": pl.String, "evidence_fingerprint": pl.String,
              "link_confidence": pl.Float64, "needs_confirmation": pl.Boolean,
              "child_records": pl.List(pl.String), "adult_records": pl.List(pl.String),
              "routes": pl.List(pl.String), "summary": pl.String}
    pl.DataFrame(findings, schema=schema).write_parquet(night_dir / "findings.parquet")
    if people:
        pl.DataFrame(PEOPLE, schema=["source", "record_id", "forename", "surname", "nhs_number"],
                     orient="row").write_parquet(night_dir / "landing" / "people.parquet")
    return night_dir


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A configuration folder with a test leads.yaml (test domain allowed)."""
    folder = config_folder(tmp_path / "config", "sharing.yaml")
    (folder / "leads.yaml").write_text(LEADS_YAML, encoding="utf-8")
    return folder


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite state database in the test's folder."""
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


def free_port() -> int:
    """A TCP port nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RecordingHandler:
    """aiosmtpd handler that records messages and can misbehave on demand."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    reject_rcpt: set[str] = field(default_factory=set)
    drop_data: int = 0  # drop the connection on the next N DATA commands (before replying)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.reject_rcpt:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_data > 0:
            self.drop_data -= 1
            server.transport.close()
            return "421 closing"
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope recipients include ``address``."""
        return [m for m, (_, rcpts) in zip(self.messages, self.envelopes, strict=True) if address in rcpts]


@dataclass
class SmtpServer:
    """A running aiosmtpd server."""

    controller: Controller
    handler: RecordingHandler
    port: int

    def settings(self, **overrides: Any) -> SmtpSettings:
        """SMTP settings pointing at this server (plain, no login)."""
        values: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "security": "none",
                                  "from_address": f"safelink@{TEST_DOMAIN}", "timeout": 5,
                                  "helo_name": "localhost"}
        values.update(overrides)
        return SmtpSettings(**values)


def start_server(port: int | None = None, *, credentials: tuple[str, str] | None = None) -> SmtpServer:
    """Start a real SMTP server on 127.0.0.1 (optionally requiring AUTH with these credentials)."""
    handler = RecordingHandler()
    port = port or free_port()
    kwargs: dict[str, Any] = {}
    if credentials is not None:
        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()) == credentials
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **kwargs)
    controller.start()
    return SmtpServer(controller, handler, port)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a free port."""
    server = start_server()
    try:
        yield server
    finally:
        server.controller.stop()


class SilentServer:
    """Accepts TCP connections and never answers (for timeouts)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = int(self.sock.getsockname()[1])
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)

    def close(self) -> None:
        """Stop listening and drop connections."""
        for conn in self._conns:
            conn.close()
        self.sock.close()


def test_helper_server_records_and_rejects(smtp_server: SmtpServer) -> None:
    import smtplib

    smtp_server.handler.reject_rcpt.add(f"no@{TEST_DOMAIN}")
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=5) as client:
        client.sendmail(f"a@{TEST_DOMAIN}", [f"b@{TEST_DOMAIN}"], "Subject: x\r\n\r\nhello\r\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(f"a@{TEST_DOMAIN}", [f"no@{TEST_DOMAIN}"], "Subject: y\r\n\r\nhello\r\n")
    assert len(smtp_server.handler.messages) == 1
