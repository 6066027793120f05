"""Every digest of a run on a generated county, read as its recipient: only their own services' record ids,
no time of day, and every finding with a next step and the other recipients.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

from alerts.leads import load_leads
from alerts.need_to_know import lead_services
from safelink.pipeline import Night, run_night
from synth import generate_county
from tests.helpers.mail import read_eml, visible_text
from tests.helpers.sample import CONFIG_DIR

FIRST = dt.date(2026, 11, 25)
NIGHTS = (FIRST,)
TIME_OF_DAY = re.compile(r"\b([01]?\d|2[0-3])[:.][0-5]\d\b")
ENTRY = re.compile(r"^\[(New|Updated|No longer found|No longer routed to you)\] Reference F", re.MULTILINE)


@pytest.fixture(scope="module")
def county_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("scan")
    generate_county(base / "county", FIRST, households=400, seed=3, nights=len(NIGHTS))
    for night in NIGHTS:
        run_night(Night(landing=base / "county" / "landing", output=base / "out", extract_date=night,
                        config_dir=CONFIG_DIR))
    return base / "out"


def _record_ids(output: Path) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for night in NIGHTS:
        people = pl.read_parquet(output / night.isoformat() / "landing" / "people.parquet",
                                 columns=["source", "record_id"])
        for source, record_id in people.iter_rows():
            ids.setdefault(source, set()).add(str(record_id))
    return ids


def test_every_digest_of_a_run_shares_only_what_its_lead_needs(county_output: Path) -> None:
    leads = load_leads(CONFIG_DIR)
    ids = _record_ids(county_output)
    digests = sorted(p for night in NIGHTS for p in (county_output / night.isoformat() / "outbox").glob("*.eml")
                     if not p.name.startswith(f"designated_{night}"))  # the summary: see below
    assert len(digests) >= 10
    entries = own_ids_seen = 0
    for path in digests:
        key = path.name.rsplit("_", 1)[0]
        own = lead_services(leads.leads[key]) if key in leads.leads else frozenset()  # designated: none
        own_ids = set().union(*(ids.get(s, set()) for s in own))
        others = set().union(*(v for s, v in ids.items() if s not in own)) - own_ids
        _, text, html = read_eml(path)
        for part in (text, visible_text(html)):
            tokens = set(re.findall(r"[A-Za-z0-9]+", part))
            leaked = sorted(t for t in tokens & others if len(t) >= 5 or not t.isdigit())
            assert not leaked, f"{path.name}: record ids of another service: {leaked[:5]}"
            assert not TIME_OF_DAY.search(part), f"{path.name}: time of day {TIME_OF_DAY.search(part)}"
        own_ids_seen += len(set(re.findall(r"[A-Za-z0-9]+", text)) & own_ids)
        found = ENTRY.findall(text)
        assert found, f"{path.name}: no findings"
        entries += len(found)
        assert text.count("\nNext step: ") == len(found), path.name
        assert text.count("\nAlso sent to: ") == len(found), path.name
        assert text.count("\nWhat changed:") == found.count("Updated"), path.name
        seen = visible_text(html)
        assert seen.count("Next step:") == seen.count("Also sent to:") == len(found), path.name
    assert entries >= 20 and own_ids_seen > 0  # the scan saw findings and the leads' own ids
    assert any(p.name.startswith("designated_findings_") for p in digests)  # cumulative concern findings


def test_the_designated_summary_holds_no_person_data(county_output: Path) -> None:
    ids = set().union(*_record_ids(county_output).values())
    for night in NIGHTS:
        _, text, html = read_eml(county_output / night.isoformat() / "outbox" / f"designated_{night}.eml")
        for part in (text, visible_text(html)):
            assert "Reference F" not in part and "***" not in part
            assert not set(re.findall(r"[A-Za-z0-9]+", part)) & {i for i in ids if len(i) >= 5}
            assert "FINDINGS PER RULE" in text and "Drop complete: yes" in text
