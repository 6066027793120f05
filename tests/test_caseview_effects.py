"""What responses change downstream: digests stop re-alerting, the report measures precision; and the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from alerts import send_digests
from alerts.responses import finding_fingerprint, record_response
from alerts.smtp import SmtpSettings
from alerts.state_tables import AlertAudit
from caseview.accounts import authenticate
from caseview.tables import CaseViewUser
from ground.state import open_state
from linkage.pipeline import level_labels
from report.sections import confidence_band, response_precision
from safelink.cli import app as cli
from tests import test_alerts_helpers as helpers
from tests.test_alerts_helpers import NIGHT1, NIGHT2, NIGHT3, finding, write_night

config_dir = helpers.config_dir
sqlite_url = helpers.sqlite_url
NO_SMTP = SmtpSettings(host="")
NIGHT4 = dt.date(2026, 11, 28)


def _changes(url: str, night: dt.date, lead: str) -> dict[str, str]:
    engine = open_state(url)
    with Session(engine) as session:
        rows = session.scalars(select(AlertAudit).where(AlertAudit.night == night, AlertAudit.recipient_key == lead,
                                                        AlertAudit.event == "queued"))
        found = {r.finding_id: str(r.change) for r in rows if r.finding_id}
    engine.dispose()
    return found


def _respond(url: str, row: dict, disposition: str, role: str = "lead", lead: str | None = "hv_chester") -> None:
    engine = open_state(url)
    record_response(engine, finding_id=row["finding_id"], rule=row["rule"], night=NIGHT1,
                    fingerprint=finding_fingerprint(row), link_confidence=row["link_confidence"],
                    responder=f"{lead or 'designated'}@safelink.test", responder_role=role, lead_key=lead,
                    disposition=disposition, note="")
    engine.dispose()


def test_not_a_concern_stops_realerting_until_the_finding_changes(tmp_path: Path, config_dir: Path,
                                                                  state_url: str) -> None:
    out = tmp_path / "out"
    routes = ["hv:team:Chester Central HV", "gp:practice:N81012"]
    row = finding("F-X", "repeated_non_attendance", routes, child=["hv:104500"])
    send_digests(write_night(out, NIGHT1, [row]), config_dir, state_url, NIGHT1, smtp=NO_SMTP)
    assert _changes(state_url, NIGHT1, "hv_chester") == {"F-X": "new"}
    _respond(state_url, row, "not_a_concern")
    send_digests(write_night(out, NIGHT2, []), config_dir, state_url, NIGHT2, smtp=NO_SMTP)
    send_digests(write_night(out, NIGHT3, [row]), config_dir, state_url, NIGHT3, smtp=NO_SMTP)
    # back with the same evidence: not re-alerted to the lead who said "not a concern"; the GP lead still told
    assert _changes(state_url, NIGHT3, "hv_chester") == {}
    assert _changes(state_url, NIGHT3, "gp_vale_royal") == {"F-X": "new"}
    changed = finding("F-X", "repeated_non_attendance", routes, child=["hv:104500"], fingerprint="fp2")
    send_digests(write_night(out, NIGHT4, [changed]), config_dir, state_url, NIGHT4, smtp=NO_SMTP)
    assert _changes(state_url, NIGHT4, "hv_chester") == {"F-X": "new"}  # materially changed: alerted again


def test_designated_not_a_concern_quiets_every_lead(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    out = tmp_path / "out"
    routes = ["hv:team:Chester Central HV", "gp:practice:N81012"]
    row = finding("F-Y", "repeated_non_attendance", routes, child=["hv:104500"])
    send_digests(write_night(out, NIGHT1, [row]), config_dir, sqlite_url, NIGHT1, smtp=NO_SMTP)
    _respond(sqlite_url, row, "not_a_concern", role="designated", lead=None)
    send_digests(write_night(out, NIGHT2, []), config_dir, sqlite_url, NIGHT2, smtp=NO_SMTP)
    send_digests(write_night(out, NIGHT3, [row]), config_dir, sqlite_url, NIGHT3, smtp=NO_SMTP)
    assert _changes(sqlite_url, NIGHT3, "hv_chester") == {} and _changes(sqlite_url, NIGHT3, "gp_vale_royal") == {}


def test_a_later_response_lifts_not_a_concern(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    out = tmp_path / "out"
    row = finding("F-Z", "repeated_non_attendance", ["hv:team:Chester Central HV"], child=["hv:104500"])
    send_digests(write_night(out, NIGHT1, [row]), config_dir, sqlite_url, NIGHT1, smtp=NO_SMTP)
    _respond(sqlite_url, row, "not_a_concern")
    _respond(sqlite_url, row, "acknowledged")
    send_digests(write_night(out, NIGHT2, []), config_dir, sqlite_url, NIGHT2, smtp=NO_SMTP)
    send_digests(write_night(out, NIGHT3, [row]), config_dir, sqlite_url, NIGHT3, smtp=NO_SMTP)
    assert _changes(sqlite_url, NIGHT3, "hv_chester") == {"F-Z": "new"}


def test_digest_carries_the_case_view_address(tmp_path: Path, config_dir: Path, sqlite_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFELINK_CASE_VIEW_URL", "https://case-view.example.nhs.uk/")
    out = tmp_path / "out"
    row = finding("F-URL", "repeated_non_attendance", ["hv:team:Chester Central HV"], child=["hv:104500"])
    send_digests(write_night(out, NIGHT1, [row]), config_dir, sqlite_url, NIGHT1, smtp=NO_SMTP)
    text = (out / NIGHT1.isoformat() / "outbox" / f"hv_chester_{NIGHT1.isoformat()}.eml").read_text()
    assert "https://case-view.example.nhs.uk/findings/F-URL" in text


def test_response_precision_per_rule_and_band() -> None:
    responses = pl.DataFrame({
        "id": [1, 2, 3, 4, 5, 6],
        "finding_id": ["A", "A", "B", "C", "D", "E"],
        "rule": ["r1", "r1", "r1", "r2", "r2", "r2"],
        "link_confidence": [0.95, 0.95, 0.9995, 0.8, 0.995, None],
        "disposition": ["not_a_concern", "acted", "wrong_link", "acknowledged", "already_known", "not_a_concern"],
    })
    out = response_precision(responses, 0.9)
    assert out["answered"] == 5 and out["responses"] == 6 and out["precision"] == pytest.approx(3 / 5)
    assert out["by_rule"] == [
        {"key": "r1", "answered": 2, "confirmed": 1, "not_a_concern": 0, "wrong_link": 1, "precision": 0.5},
        {"key": "r2", "answered": 3, "confirmed": 2, "not_a_concern": 1, "wrong_link": 0,
         "precision": pytest.approx(2 / 3)},
    ]
    assert {r["key"]: (r["answered"], r["confirmed"]) for r in out["by_band"]} == {
        "0.9 to 0.99": (1, 1), "0.99 to 0.999": (1, 1), "0.999 and above": (1, 0),
        "below 0.9 (needs confirmation)": (1, 1), "not stated": (1, 0)}
    assert response_precision(responses.clear(), 0.9) == {"available": False}


def test_confidence_band_edges() -> None:
    assert confidence_band(0.9, 0.9) == "0.9 to 0.99"
    assert confidence_band(0.99, 0.9) == "0.99 to 0.999"
    assert confidence_band(0.995, 0.995) == "0.995 to 0.999"
    assert confidence_band(0.5, 0.995) == "below 0.995 (needs confirmation)"


def test_pairs_name_each_comparison_level() -> None:
    from linkage.compare import LEVELS

    fn, sn = LEVELS["forename"], LEVELS["surname"]
    levels = pl.DataFrame({"forename": [fn.index("exact"), 1, -1], "surname": [len(sn) - 1, 0, 2],
                           "nhs": [-1, 1, 0]}, schema={"forename": pl.Int8, "surname": pl.Int8, "nhs": pl.Int8})
    out = levels.select(level_labels(levels))
    assert out.to_dict(as_series=False) == {
        "level_forename": ["exact", fn[1], "missing"], "level_surname": ["swapped", "different", sn[2]],
        "level_nhs": ["missing", "exact", "different"]}


def test_every_comparison_level_has_words() -> None:
    from caseview.finding_view import LEVEL_WORDS
    from linkage.compare import LEVELS

    missing = {(field, level) for field, names in LEVELS.items() for level in names
               if level not in LEVEL_WORDS.get(field, {})}
    assert missing == set(), f"levels without words on the finding page: {sorted(missing)}"


def _said(result: object) -> str:
    return " ".join(str(getattr(result, "output", "")).split())  # rich wraps long lines


def test_users_add_reads_the_password_from_stdin(tmp_path: Path, config_dir: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    missing = runner.invoke(cli, ["users", "add", "a@safelink.test", "--role", "engineer", "--output", str(out)],
                            input="a long enough password\n")
    assert missing.exit_code == 2 and "is not a folder" in _said(missing)
    out.mkdir()
    args = ["users", "add", "Lead.One@Safelink.test", "--role", "lead", "--lead", "hv_chester", "--output", str(out),
            "--config", str(config_dir)]
    done = runner.invoke(cli, args, input="a long enough password\n")
    assert done.exit_code == 0, done.output
    url = f"sqlite:///{(out / 'state.sqlite').resolve()}"
    engine = open_state(url)
    with Session(engine) as session:
        user = session.scalars(select(CaseViewUser)).one()
        assert (user.email, user.role, user.lead_key) == ("lead.one@safelink.test", "lead", "hv_chester")
        assert user.password_hash.startswith("$argon2id$") and "long enough" not in user.password_hash
    assert authenticate(engine, "lead.one@safelink.test", "a long enough password", "cli") is not None
    engine.dispose()
    again = runner.invoke(cli, args, input="a long enough password\n")
    assert again.exit_code == 2 and "already exists" in _said(again)
    unknown = runner.invoke(cli, [*args[:6], "nobody", *args[7:]], input="a long enough password\n")
    assert unknown.exit_code == 2 and "not in leads.yaml" in _said(unknown)
    short = runner.invoke(cli, ["users", "add", "e@safelink.test", "--role", "engineer", "--output", str(out),
                                "--config", str(config_dir)], input="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in _said(short)
    no_lead = runner.invoke(cli, ["users", "add", "l@safelink.test", "--role", "lead", "--output", str(out),
                                  "--config", str(config_dir)], input="a long enough password\n")
    assert no_lead.exit_code == 2 and "--lead" in _said(no_lead)


def test_demo_prints_how_to_start_the_case_view_with_accounts(tmp_path: Path, config_dir: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from safelink.cli import _print_case_view
    from safelink.pipeline import Night
    from tests.helpers.caseview import write_deployment

    output = tmp_path / "out"
    write_deployment(output, config_dir)
    night = Night(landing=tmp_path / "landing", output=output, extract_date=dt.date(2026, 11, 25),
                  config_dir=config_dir)
    _print_case_view(night)
    said = " ".join(capsys.readouterr().err.split())
    assert f"safelink serve --output {output}" in said
    import re

    found = dict(re.findall(r"(\S+@nhs\.net) password (\S+)", said))
    assert set(found) == {"designated.demo@nhs.net", "lead.demo@nhs.net", "engineer.demo@nhs.net"}
    assert "lead hv_chester" in said  # the lead with the most findings in the tiny deployment
    engine = open_state(night.state)
    for email, password in found.items():
        assert authenticate(engine, email, password, "demo") is not None
    engine.dispose()


def test_single_sign_on_redirects_to_the_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs, urlparse

    from fastapi.testclient import TestClient

    from caseview.app import create_app
    from tests.helpers.caseview import write_deployment

    class Discovery(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the provider's discovery document, as a real provider serves it
            issuer = f"http://127.0.0.1:{self.server.server_port}"
            body = json.dumps({"issuer": issuer, "authorization_endpoint": f"{issuer}/authorize",
                               "token_endpoint": f"{issuer}/token", "jwks_uri": f"{issuer}/jwks"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    output, config = tmp_path / "out", tmp_path / "config"
    write_deployment(output, config)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    plain = TestClient(create_app(output, url, config))
    assert plain.get("/login/sso").status_code == 404 and "/login/sso" not in plain.get("/login").text
    port = server.server_port
    monkeypatch.setenv("SAFELINK_OIDC_METADATA_URL", f"http://127.0.0.1:{port}/.well-known/openid-configuration")
    monkeypatch.setenv("SAFELINK_OIDC_CLIENT_ID", "case-view")
    monkeypatch.setenv("SAFELINK_OIDC_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("SAFELINK_CASE_VIEW_URL", "https://case-view.example.nhs.uk")
    try:
        client = TestClient(create_app(output, url, config), base_url="https://testserver")
        assert 'href="/login/sso"' in client.get("/login").text
        r = client.get("/login/sso", follow_redirects=False)
        assert r.status_code == 302
        target = urlparse(r.headers["location"])
        query = parse_qs(target.query)
        assert f"{target.scheme}://{target.netloc}{target.path}" == f"http://127.0.0.1:{port}/authorize"
        assert query["client_id"] == ["case-view"] and query["response_type"] == ["code"]
        assert query["redirect_uri"] == ["https://case-view.example.nhs.uk/login/sso/callback"]
        assert "openid" in query["scope"][0] and query["state"][0]
        forged = client.get("/login/sso/callback?code=x&state=forged", follow_redirects=False)
        assert forged.status_code == 401 and "did not complete" in forged.text
    finally:
        server.shutdown()


def test_link_explanation_names_only_records_the_reader_may_see() -> None:
    from alerts.sharing import load_sharing
    from caseview.finding_view import Shown, waterfall
    from tests.conftest import CONFIG_DIR
    from tests.helpers.caseview import PAIRS

    sharing = load_sharing(CONFIG_DIR)
    lead = Shown(services=frozenset({"hv", "gp"}), ids=frozenset({"hv"}))
    shown = waterfall(PAIRS[0], sharing, lead)
    assert (shown["left"], shown["right"]) == ("Health visiting 104500", "GP record")
    full = waterfall(PAIRS[0], sharing)
    assert (full["left"], full["right"]) == ("Health visiting 104500", "GP 23695")
    assert [s["label"] for s in full["steps"]][1:] == [
        "forename: spelt closely (a slip or one edit)", "surname: the same", "date of birth: the same",
        "address: the same postcode and address", "NHS number: the same", "sex: missing"]
    assert full["steps"][-1]["end"] == pytest.approx(full["weight"])  # the steps add up to the total
    assert not lead.service("amh") and Shown().service("amh")
