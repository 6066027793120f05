"""The case view in a real browser (Playwright driving Debian's Chromium) against a live ``safelink serve``
on a generated county: two nights run by the product path, with a lead's responses and a reviewer's decision
between them.

The tests run in file order on one deployment (``--dist loadfile`` keeps a file on one worker).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.leads import load_leads, route_finding
from alerts.state_tables import AlertResponse
from caseview.accounts import add_user
from caseview.finding_view import pairs_behind
from caseview.tables import CaseViewAudit
from ground.state import open_state
from safelink.pipeline import Night, run_night
from synth import generate_county
from tests.helpers.sample import CONFIG_DIR, ROOT

pytestmark = pytest.mark.slow
playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NIGHT1 = dt.date(2026, 11, 25)
NIGHT2 = dt.date(2026, 11, 26)
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">Zoë'
PASSWORD = "browser test password"
CASELOAD = {"hv": ("HV", "Patient ID", "Forename"), "sn": ("SN", "PatientID", "FirstName")}  # the contract's files
DIALOGS: list[str] = []  # any dialog a page opens (a script that ran)


@dataclass
class County:
    """The deployment under test and what the tests picked from its first night."""

    root: Path
    output: Path
    url: str
    base: str
    lead: str
    other_lead: str
    lead_findings: set[str]
    foreign_finding: str
    child: str
    child_rules: set[str]
    hostile_record: tuple[str, str]
    wrong_link_finding: str
    shared: dict[str, Any] = field(default_factory=dict)

    def account(self, role: str) -> str:
        return f"{role}@browser.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pick(output: Path) -> dict[str, Any]:
    """Choose the lead, the child with findings from two rules, and a finding with record pairs behind it."""
    leads = load_leads(CONFIG_DIR)
    night = output / NIGHT1.isoformat()
    findings = pl.read_parquet(night / "findings.parquet")
    pairs = pl.read_parquet(night / "linkage" / "pairs.parquet")
    routed = {r["finding_id"]: route_finding(list(r["routes"]), leads) for r in findings.iter_rows(named=True)}
    about_children = findings.filter(pl.col("child_person_id").is_not_null())
    rules = about_children.group_by("child_person_id").agg(pl.col("rule").unique().alias("rules")).join(
        about_children.select("child_person_id", "child_records").explode("child_records")
        .group_by("child_person_id").agg(pl.col("child_records").unique().alias("refs")), on="child_person_id")
    people = pl.read_parquet(night / "landing" / "people.parquet")
    verified = sorted(f"{s}:{r}" for s, r in people.filter(
        pl.col("source").is_in(list(CASELOAD)) & (pl.col("nhs_status") == "01") & pl.col("nhs_number").is_not_null()
    ).select("source", "record_id").iter_rows())
    two = rules.filter((pl.col("rules").list.len() >= 2)
                       & pl.col("refs").list.eval(pl.element().is_in(verified)).list.any()).sort("child_person_id")
    assert two.height, "the county has no child with findings from two rules and a verified hv or sn record"
    child = two.row(0, named=True)
    by_lead: dict[str, set[str]] = {}
    for fid, keys in routed.items():
        for key in keys:
            by_lead.setdefault(key, set()).add(fid)
    lead = max(sorted(by_lead), key=lambda k: len(by_lead[k]))
    other = sorted(k for k in by_lead if by_lead[k] - by_lead[lead])[0]
    foreign = sorted(by_lead[other] - by_lead[lead])
    candidates = [r for r in findings.iter_rows(named=True) if r["finding_id"] in by_lead[lead]
                  and r["child_person_id"] != child["child_person_id"]
                  and (pairs_behind(r, pairs) is not None and pairs_behind(r, pairs).height > 0)]  # type: ignore[union-attr]
    assert candidates, "no finding of the lead with record pairs behind it"
    # a record still linked by its verified NHS number when its forename turns hostile
    hostile = sorted(r for r in child["refs"] if r in verified)[0]
    return {"lead": lead, "other_lead": other, "lead_findings": by_lead[lead], "foreign_finding": foreign[0],
            "child": child["child_person_id"], "child_rules": set(child["rules"]),
            "hostile_record": tuple(hostile.split(":", 1)), "wrong_link_finding": sorted(
                c["finding_id"] for c in candidates)[0]}


def _make_hostile(landing: Path, night: dt.date, source: str, record_id: str) -> None:
    """Give the child's record a hostile forename in the night's drop (as a source system might send it)."""
    prefix, id_column, forename = CASELOAD[source]
    path = landing / night.isoformat() / f"{prefix}_Caseload_{night:%Y%m%d}.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    hit = [r for r in rows if r[id_column] == record_id]
    assert hit, "the child's record is not in the next night's drop"
    hit[0][forename] = HOSTILE
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
    root = tmp_path_factory.mktemp("browser")
    generate_county(root / "county", NIGHT1, 300, 1, nights=2)
    output = root / "out"
    run_night(Night(landing=root / "county" / "landing", output=output, extract_date=NIGHT1))
    picked = _pick(output)
    url = f"sqlite:///{(output / 'state.sqlite').resolve()}"
    engine = open_state(url)
    add_user(engine, "designated@browser.test", "designated", PASSWORD)
    add_user(engine, "lead@browser.test", "lead", PASSWORD, picked["lead"])
    add_user(engine, "other@browser.test", "lead", PASSWORD, picked["other_lead"])
    add_user(engine, "engineer@browser.test", "engineer", PASSWORD)
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SAFELINK_STATE_URL", None)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "safelink"), "serve", "--output", str(output), "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"safelink serve did not start: {server.stderr.read() if server.stderr else ''}"
                                       ) from None
                time.sleep(0.5)
        yield County(root=root, output=output, url=url, base=base, **picked)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(county: County) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page_as(browser: Any, county: County) -> Iterator[Any]:
    contexts = []

    def login(who: str) -> Any:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda d: (DIALOGS.append(d.message), d.dismiss()))
        page.goto(f"{county.base}/findings")
        page.fill("#email", county.account(who))
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        return page

    yield login
    for context in contexts:
        context.close()


def _audit_count(url: str, *where: Any) -> int:
    engine = open_state(url)
    with Session(engine) as session:
        n = session.scalar(select(func.count()).select_from(CaseViewAudit).where(*where)) or 0
    engine.dispose()
    return n


def test_login_and_logout(browser: Any, county: County) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{county.base}/findings")
    assert page.url.startswith(f"{county.base}/login")
    page.fill("#email", county.account("lead"))
    page.fill("#password", "wrong password here")
    page.click("#sign-in")
    assert "Wrong e-mail address or password" in page.inner_text("#error")
    page.fill("#email", county.account("lead"))
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    assert page.url == f"{county.base}/findings"
    assert county.account("lead") in page.inner_text("header")
    cookie = next(c for c in context.cookies() if c["name"] == "safelink_case_view")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click("#logout")
    assert page.url == f"{county.base}/login" and "You have signed out" in page.content()
    page.goto(f"{county.base}/findings")
    assert page.url.startswith(f"{county.base}/login")
    context.close()


def test_a_lead_sees_only_their_findings(page_as: Any, county: County) -> None:
    page = page_as("lead")
    shown = {row.get_attribute("data-finding") for row in page.locator("tr[data-finding]").all()}
    assert shown == county.lead_findings
    response = page.goto(f"{county.base}/findings/{county.foreign_finding}")
    assert response is not None and response.status == 403
    assert "not routed to you" in page.inner_text("#error")
    other = page_as("other")
    assert county.foreign_finding in {r.get_attribute("data-finding") for r in other.locator("tr[data-finding]").all()}


def test_the_chronology_of_a_child_with_findings_from_two_rules(page_as: Any, county: County) -> None:
    page = page_as("designated")
    page.goto(f"{county.base}/children/{county.child}")
    rules = {row.get_attribute("data-rule") for row in page.locator("#child-findings tr[data-rule]").all()}
    assert rules == county.child_rules and len(rules) >= 2
    assert page.locator("#chart svg").count() == 1
    assert page.locator("#chart svg").bounding_box()["height"] > 100  # drawn, not empty
    assert page.locator("#timeline tr.finding").count() >= 2
    assert page.locator("#episodes tr").count() >= 2


def test_blind_review(page_as: Any, county: County) -> None:
    page = page_as("designated")
    page.goto(f"{county.base}/review")
    pairs = page.locator("div.pair").count()
    assert pairs > 0 and page.locator("div.pair .scores").count() == pairs
    page.click("#blind")
    assert "blind=1" in page.url and "Blind review" in page.inner_text("main")
    assert page.locator("div.pair").count() == pairs
    assert page.locator("div.pair .scores").count() == 0
    assert "probability" not in page.inner_text("main")
    assert page.locator("div.pair table.sides").count() == pairs  # the records are still side by side


def test_csrf_rejection(page_as: Any, county: County) -> None:
    page = page_as("lead")
    fid = sorted(county.lead_findings)[0]
    page.goto(f"{county.base}/findings/{fid}")
    page.locator("#respond input[name=csrf_token]").evaluate("el => el.value = 'forged'")
    page.check("#respond input[value=acted]")
    with page.expect_navigation():
        page.click("#respond button[type=submit]")
    assert "CSRF check failed" in page.inner_text("#error")
    engine = open_state(county.url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(AlertResponse)) == 0
    engine.dispose()


def test_responses_and_a_review_decision(page_as: Any, county: County) -> None:
    lead = page_as("lead")
    answered = sorted(county.lead_findings - {county.wrong_link_finding})[0]
    lead.goto(f"{county.base}/findings/{answered}")
    lead.check("#respond input[value=acted]")
    lead.fill("#note", "Discussed at the safeguarding meeting")
    lead.click("#respond button[type=submit]")
    assert "Response recorded: Acted on" in lead.inner_text(".flash")
    assert "Acted on" in lead.inner_text("#responses")
    lead.goto(f"{county.base}/findings/{county.wrong_link_finding}")
    lead.check("#respond input[value=wrong_link]")
    lead.click("#respond button[type=submit]")
    assert "now in the review queue" in lead.inner_text(".flash")

    reviewer = page_as("designated")
    reviewer.goto(f"{county.base}/review")
    sent = reviewer.locator("div.pair", has_text="sent by a wrong-link response")
    assert sent.count() >= 1
    first = sent.first
    county.shared["split_pair"] = first.get_attribute("data-pair")
    first.locator("input[value=no_match]").check()
    first.locator("button[type=submit]").click()
    assert "Decision recorded" in reviewer.inner_text(".flash")
    assert reviewer.locator(f"div.pair[data-pair='{county.shared['split_pair']}']").count() == 0


def test_next_night_applies_the_decision_and_reports_the_responses(county: County) -> None:
    assert "split_pair" in county.shared, "needs test_responses_and_a_review_decision first"
    from report.review import latest_decisions

    decided = latest_decisions(county.url).filter(pl.col("pair_key") == county.shared["split_pair"]).row(0, named=True)
    left, right = (decided["source_l"], decided["record_id_l"]), (decided["source_r"], decided["record_id_r"])

    def person(night: dt.date, ref: tuple[str, str]) -> str:
        records = pl.read_parquet(county.output / night.isoformat() / "linkage" / "records.parquet")
        return str(records.filter((pl.col("source") == ref[0]) & (pl.col("record_id") == ref[1]))["person_id"][0])

    assert person(NIGHT1, left) == person(NIGHT1, right)
    landing = county.root / "county" / "landing"
    _make_hostile(landing, NIGHT2, *county.hostile_record)
    run_night(Night(landing=landing, output=county.output, extract_date=NIGHT2))
    assert person(NIGHT2, left) != person(NIGHT2, right)  # the reviewer's "different people" held
    report = (county.output / NIGHT2.isoformat() / "report.html").read_text(encoding="utf-8")
    section = report[report.index('<section id="responses">'):]
    section = section[:section.index("</section>")]
    assert "2 findings answered" in section and 'id="responses-by-rule"' in section
    assert 'id="responses-by-band"' in section and "wrong link" in section


def test_a_hostile_name_is_shown_as_text(page_as: Any, county: County) -> None:
    assert (county.output / NIGHT2.isoformat()).exists(), "needs the second night"
    page = page_as("designated")
    page.goto(f"{county.base}/children/{county.child}")
    assert HOSTILE in page.inner_text("#child-names")  # shown literally, as text
    assert page.locator("#child-names img").count() == 0
    assert page.title() != "pwned" and DIALOGS == []


def test_an_audit_row_for_every_view(page_as: Any, county: County) -> None:
    page = page_as("lead")
    views = [f"/findings/{fid}" for fid in sorted(county.lead_findings)[:2]] + [f"/children/{county.child}"]
    before = _audit_count(county.url, CaseViewAudit.user_email == county.account("lead"),
                          CaseViewAudit.action.in_(["view_finding", "view_child"]))
    for path in views:
        response = page.goto(f"{county.base}{path}")
        assert response is not None and response.status in (200, 403)
    after = _audit_count(county.url, CaseViewAudit.user_email == county.account("lead"),
                         CaseViewAudit.action.in_(["view_finding", "view_child"]))
    assert after == before + len(views)
    reader = page_as("designated")
    reader.goto(f"{county.base}/audit")
    text = reader.inner_text("#audit")
    assert county.account("lead") in text and "view_finding" in text
