"""The case view's paths and roles, through FastAPI's TestClient on a tiny deployment written inline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.state_tables import AlertResponse
from caseview.accounts import add_user
from caseview.app import create_app
from caseview.tables import CaseViewAudit, CaseViewReviewRequest
from ground.state import open_state
from linkage.review_decisions import ReviewDecision
from report.review import review_overrides
from tests.helpers.caseview import HOSTILE, NIGHT, PAIRS, PASSWORD, USERS, csrf, pair, sign_in, write_deployment


def _deploy(tmp: Path, url: str) -> tuple[Path, Path]:
    output, config = tmp / "out", tmp / "config"
    write_deployment(output, config)
    engine = open_state(url)
    for email, role, lead in USERS.values():
        add_user(engine, email, role, PASSWORD, lead)
    engine.dispose()
    return output, config


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("caseview")
    url = f"sqlite:///{tmp / 'state.sqlite'}"
    output, config = _deploy(tmp, url)
    return output, config, url


@pytest.fixture(scope="module")
def app(deployment: tuple[Path, Path, str]) -> Any:
    output, config, url = deployment
    return create_app(output, url, config)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _as(app: Any, who: str) -> TestClient:
    c = TestClient(app)
    assert sign_in(c, who).status_code == 303
    return c


def _count(url: str, model: Any, *where: Any) -> int:
    engine = open_state(url)
    with Session(engine) as session:
        n = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    engine.dispose()
    return n


def test_healthz_needs_no_session(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/findings", "/findings/F-HV", "/review", "/children/PC1", "/runs", "/audit", "/"])
def test_pages_without_a_session_go_to_login(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_login_sets_a_signed_httponly_samesite_cookie_and_logout_ends_it(app: Any) -> None:
    c = TestClient(app)
    r = sign_in(c, "hv")
    assert r.status_code == 303 and r.headers["location"] == "/findings"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert c.get("/findings").status_code == 200
    stolen = dict(c.cookies)
    r = c.post("/logout", data={"csrf_token": csrf(c, "/findings")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/findings", follow_redirects=False).status_code == 303
    replay = TestClient(app, cookies=stolen)  # the old cookie no longer works: the session ended on the server
    assert replay.get("/findings", follow_redirects=False).status_code == 303


def test_cookie_is_secure_behind_tls(deployment: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    output, config, url = deployment
    monkeypatch.setenv("SAFELINK_CASE_VIEW_URL", "https://case-view.example.nhs.uk")
    c = TestClient(create_app(output, url, config), base_url="https://testserver")
    assert "secure" in sign_in(c, "designated").headers["set-cookie"].lower()


def test_wrong_password_and_unknown_account_look_the_same(client: TestClient) -> None:
    wrong = sign_in(client, "hv", "not the password")
    unknown = sign_in(client, "nobody@safelink.test")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong e-mail address or password" in wrong.text and "Wrong e-mail address or password" in unknown.text


def test_login_is_throttled_after_repeated_failures(deployment: tuple[Path, Path, str], app: Any) -> None:
    url = deployment[2]
    engine = open_state(url)
    add_user(engine, "throttled@safelink.test", "designated", PASSWORD)
    engine.dispose()
    c = TestClient(app)
    codes = [sign_in(c, "throttled@safelink.test", "guess {i}").status_code for i in range(5)]
    assert codes == [401] * 5
    r = sign_in(c, "throttled@safelink.test")  # the right password, too late
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"email": USERS["hv"][0], "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text


def test_login_next_stays_on_this_site(client: TestClient) -> None:
    token = csrf(client)
    r = client.post("/login", data={"email": USERS["hv"][0], "password": PASSWORD, "csrf_token": token,
                                    "next": "//evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/findings"


def _inbox(c: TestClient) -> set[str]:
    import re

    return set(re.findall(r'data-finding="([^"]+)"', c.get("/findings").text))


def test_each_lead_sees_only_their_findings_designated_sees_all(app: Any, deployment: tuple[Path, Path, str]) -> None:
    url = deployment[2]
    hv, sn, designated = _as(app, "hv"), _as(app, "sn"), _as(app, "designated")
    assert _inbox(hv) == {"F-HV", "F-SA"}
    assert _inbox(sn) == {"F-SN"}
    assert _inbox(designated) == {"F-HV", "F-SA", "F-SN"}
    denied_before = _count(url, CaseViewAudit, CaseViewAudit.outcome == "denied")
    r = hv.get("/findings/F-SN")
    assert r.status_code == 403 and "not routed to you" in r.text
    assert _count(url, CaseViewAudit, CaseViewAudit.outcome == "denied") == denied_before + 1
    assert hv.get("/findings/F-NOPE").status_code == 404


def test_finding_page_is_need_to_know_with_named_levels(app: Any) -> None:
    page = _as(app, "hv").get("/findings/F-HV").text
    assert "<td>I.S.</td>" in page or "<td>S.S.</td>" in page  # initials only (the hv forename is hostile)
    assert "Santos" not in page and "Sebastian" not in page and "2024-03-01" not in page
    assert "*** *** 3305" in page  # masked NHS number
    assert "What was found:" in page and "Next step:" in page  # the digests' need-to-know view
    # the sharing matrix shows this lead no GP block here: no GP record, pair or guard in the explanation
    assert "23695" not in page and "99001" not in page and "twins" not in page and 'id="no-pairs"' in page
    full = _as(app, "designated").get("/findings/F-HV").text
    assert "Health visiting 104500</strong> and <strong>GP 23695" in full
    assert "surname: the same" in full and "forename: spelt closely" in full and "sex: missing" in full
    assert "twins" in full and "possible twins" in full  # the guard near the child and what it means


def test_engineer_sees_run_health_only(app: Any) -> None:
    eng = _as(app, "engineer")
    for path in ("/findings", "/findings/F-HV", "/review", "/children/PC1", "/audit"):
        assert eng.get(path).status_code == 403, path
    runs = eng.get("/runs")
    assert runs.status_code == 200 and NIGHT.isoformat() in runs.text
    for name in ("Santos", "Clark", "Taylor", "9997643305"):
        assert name not in runs.text


def test_lead_cannot_review_or_read_the_audit(app: Any) -> None:
    hv = _as(app, "hv")
    assert hv.get("/review").status_code == 403
    assert hv.get("/audit").status_code == 403
    assert hv.get("/runs").status_code == 403


def test_response_needs_csrf_and_is_recorded(app: Any, deployment: tuple[Path, Path, str]) -> None:
    url = deployment[2]
    sn = _as(app, "sn")
    before = _count(url, AlertResponse, AlertResponse.finding_id == "F-SN")
    r = sn.post("/findings/F-SN/response", data={"disposition": "acted", "note": "seen"}, follow_redirects=False)
    assert r.status_code == 403
    assert _count(url, AlertResponse, AlertResponse.finding_id == "F-SN") == before
    r = sn.post("/findings/F-SN/response", data={"disposition": "maybe", "csrf_token": csrf(sn, "/findings")})
    assert r.status_code == 400
    r = sn.post("/findings/F-SN/response", data={"disposition": "acted", "note": "<b>seen</b>",
                                                  "csrf_token": csrf(sn, "/findings")}, follow_redirects=False)
    assert r.status_code == 303
    engine = open_state(url)
    with Session(engine) as session:
        row = session.scalars(select(AlertResponse).where(AlertResponse.finding_id == "F-SN")).all()[-1]
        assert (row.disposition, row.responder, row.lead_key, row.note) == (
            "acted", USERS["sn"][0], "sn_vale_royal", "<b>seen</b>")
    engine.dispose()
    page = sn.get("/findings/F-SN").text
    assert "&lt;b&gt;seen&lt;/b&gt;" in page and "Acted on" in page
    responded = sn.get("/findings").text
    assert 'data-group="responded"' in responded and "Acted on" in responded
    hv = _as(app, "hv")
    assert hv.post("/findings/F-SN/response", data={"disposition": "acted", "csrf_token": csrf(hv, "/findings")}
                   ).status_code == 403


def test_wrong_link_puts_the_pairs_behind_in_review_and_a_decision_becomes_an_override(
        app: Any, deployment: tuple[Path, Path, str]) -> None:
    url = deployment[2]
    hv, designated = _as(app, "hv"), _as(app, "designated")
    before = designated.get("/review").text
    assert 'data-pair="' in before  # tonight's review pair (gp:99001 / hv:104500)
    r = hv.post("/findings/F-HV/response", data={"disposition": "wrong_link", "csrf_token": csrf(hv, "/findings")})
    assert "1 linked record pair(s)" in r.text
    engine = open_state(url)
    with Session(engine) as session:
        req = session.scalars(select(CaseViewReviewRequest).where(CaseViewReviewRequest.finding_id == "F-HV")).one()
        assert {(req.source_l, req.record_id_l), (req.source_r, req.record_id_r)} == {("hv", "104500"), ("gp", "23695")}
    engine.dispose()
    queue = designated.get("/review").text
    assert req.pair_key in queue and "sent by a wrong-link response" in queue
    r = designated.post("/review/decision", data={"pair_key": req.pair_key, "decision": "no_match",
                                                  "csrf_token": csrf(designated, "/review")}, follow_redirects=False)
    assert r.status_code == 303
    assert req.pair_key not in designated.get("/review").text  # decided, unchanged: not shown again
    overrides = review_overrides(url)
    split = overrides.filter(pl.col("decision") == "force_split")
    assert {tuple(sorted([(r["source_l"], r["record_id_l"]), (r["source_r"], r["record_id_r"])]))
            for r in split.iter_rows(named=True)} == {(("gp", "23695"), ("hv", "104500"))}
    assert _count(url, ReviewDecision, ReviewDecision.reviewer == USERS["designated"][0]) >= 1


def test_review_shows_only_new_or_changed_pairs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    output, config = _deploy(tmp_path, url)
    c = _as(create_app(output, url, config), "designated")
    import re

    keys = re.findall(r'data-pair="([^"]+)"', c.get("/review").text)
    assert len(keys) == 1
    c.post("/review/decision", data={"pair_key": keys[0], "decision": "match", "csrf_token": csrf(c, "/review")})
    assert "Nothing to review" in c.get("/review").text
    moved = [*PAIRS[:3], pair("gp:99001", "hv:104500", [2.5, 6.7, 3.0, 14.0, 0.0, 0.0],
                              ["close", "exact", "one_digit", "postcode_and_address", "missing", "missing"], "review")]
    write_deployment(output, config, NIGHT + dt.timedelta(days=1), pairs=moved)
    page = c.get("/review").text
    assert keys[0] in page and "weight changed since the last decision" in page


def test_blind_review_hides_scores(app: Any) -> None:
    designated = _as(app, "designated")
    seen = designated.get("/review").text
    blind = designated.get("/review?blind=1").text
    assert "probability" in seen and "Total" in seen
    assert "Blind review" in blind and "probability" not in blind and "Total" not in blind and "twins" not in blind
    assert "Sebastien" in blind and "Date of birth" in blind  # the records themselves are still side by side


def test_chronology_for_the_lead_and_the_designated(app: Any, deployment: tuple[Path, Path, str]) -> None:
    url = deployment[2]
    hv = _as(app, "hv")
    views = _count(url, CaseViewAudit, CaseViewAudit.action == "view_child", CaseViewAudit.outcome == "ok")
    page = hv.get("/children/PC1")
    assert page.status_code == 200
    text = page.text
    assert 'data-rule="repeated_non_attendance"' in text and 'data-rule="significant_adult"' in text
    assert "<svg" in text and "Missed" not in text.split("<svg", 1)[0]  # the chart is there
    assert "Clinic: missed" in text and "Immunisation: missed" in text
    assert "R.T." in text and "Mother" in text and "Rachel" not in text  # the adult by initials only
    # the adult's substance misuse and mental health involvement is not this (health visiting) lead's to see
    assert "Turning Point" not in text and "Adult mental health" not in text
    assert HOSTILE not in text and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in text
    assert _count(url, CaseViewAudit, CaseViewAudit.action == "view_child", CaseViewAudit.outcome == "ok") == views + 1
    assert _as(app, "sn").get("/children/PC1").status_code == 403
    full = _as(app, "designated").get("/children/PC1")
    assert full.status_code == 200 and "Turning Point" in full.text and "Adult mental health" in full.text
    assert _as(app, "designated").get("/children/NOBODY").status_code == 404


def test_every_person_page_view_is_audited_and_readable_by_designated(
        app: Any, deployment: tuple[Path, Path, str]) -> None:
    url = deployment[2]
    hv = _as(app, "hv")
    before = _count(url, CaseViewAudit)
    for path in ("/findings/F-HV", "/findings/F-SA", "/children/PC1", "/findings/F-HV"):
        assert hv.get(path).status_code == 200
    assert _count(url, CaseViewAudit) == before + 4
    audit = _as(app, "designated").get("/audit?target=F-SA").text
    assert "view_finding" in audit and USERS["hv"][0] in audit
    engine = open_state(url)
    with Session(engine) as session, pytest.raises(RuntimeError, match="append-only"):
        row = session.scalars(select(CaseViewAudit)).first()
        assert row is not None
        row.detail = "changed"
        session.commit()
    engine.dispose()


def test_pages_carry_security_headers(app: Any) -> None:
    r = _as(app, "designated").get("/findings/F-HV")
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script runs
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"


def test_state_on_postgresql_too(tmp_path: Path, state_url: str) -> None:
    output, config = _deploy(tmp_path, state_url)
    c = TestClient(create_app(output, state_url, config))
    assert sign_in(c, "hv").status_code == 303
    assert c.get("/findings/F-HV").status_code == 200
    r = c.post("/findings/F-HV/response", data={"disposition": "acknowledged", "csrf_token": csrf(c, "/findings")},
               follow_redirects=False)
    assert r.status_code == 303
    assert _count(state_url, AlertResponse) == 1 and _count(state_url, CaseViewAudit) == 2


def test_chronology_hides_sensitive_services_from_other_leads(app: Any) -> None:
    sn = _as(app, "sn").get("/children/PC2")
    assert sn.status_code == 200
    assert "295933" in sn.text and "RIO8387993" not in sn.text  # CAMHS involvement is not the school nurse's
    assert 'id="hidden"' in sn.text and "1 record(s)" in sn.text
    full = _as(app, "designated").get("/children/PC2").text
    assert "RIO8387993" in full and 'id="hidden"' not in full
