"""What a digest shows: initials, masked NHS numbers, safe evidence, escaped HTML, generic subjects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from alerts.compose import closed_entry, digest_subject, render_digest
from alerts.digests import mask_error
from alerts.leads import LeadsConfig, load_leads
from alerts.need_to_know import NeedToKnow, PersonLine, Recipient, RecordIndex
from alerts.present import confidence_label, initials, mask_nhs
from alerts.sharing import load_sharing
from tests.helpers.config import config_folder
from tests.test_alerts_helpers import LEADS_YAML

NIGHT = dt.date(2026, 11, 25)
ROOT = Path(__file__).resolve().parent.parent


def _leads(tmp_path: Path) -> LeadsConfig:
    (config_folder(tmp_path) / "leads.yaml").write_text(LEADS_YAML, encoding="utf-8")
    return load_leads(tmp_path)


def test_mask_nhs() -> None:
    assert mask_nhs("9434765919", 4) == "*** *** 5919"
    assert mask_nhs("943 476 5919", 2) == "*** *** **19"
    assert mask_nhs("9434765919", 10) == "943 476 5919"
    assert mask_nhs("9434765919", 0) == "recorded (hidden)"
    assert mask_nhs(None, 4) == mask_nhs("12", 4) == "not recorded"


@given(st.from_regex(r"\d{10}", fullmatch=True), st.integers(min_value=0, max_value=4))
def test_mask_nhs_never_shows_more_than_asked(number: str, visible: int) -> None:
    shown = mask_nhs(number, visible)
    assert sum(c.isdigit() for c in shown) == visible


def test_initials() -> None:
    assert initials("Siobhán", "O'Neill") == "S.O."
    assert initials("  zoë", "shaw-walker") == "Z.S."
    assert initials(None, "") == "?.?."


def test_record_index_person_and_team() -> None:
    people = pl.DataFrame({"source": ["hv", "gp", "gp"], "record_id": ["1", "2", "3"],
                           "forename": ["Amy", "Amy", "Bo"], "surname": ["Roe", "Roe", "Lee"],
                           "nhs_number": ["9434765919", "9434765919", None],
                           "team": ["Chester Central HV", None, None], "practice": [None, "N81006", "N81007"]})
    index = RecordIndex(people)
    assert index.person("Child", ["hv:1", "gp:2", "dental:P9"], 4) == PersonLine("Child", "A.R.", "*** *** 5919")
    assert index.team("hv:1") == "Chester Central HV" and index.team("gp:3") == "N81007"
    assert index.team("dental:P9") is None
    assert RecordIndex(None).person("Adult", ["tp:TP1"], 4) == PersonLine("Adult", "?.?.", "not recorded")


def test_confidence_label() -> None:
    assert confidence_label(0.9734) == "97.3%" and confidence_label(None) == "not stated"


def test_subject_is_generic() -> None:
    assert digest_subject(NIGHT, {"new": 3, "updated": 1, "no_longer_found": 0, "moved": 0}) == (
        "Safeguarding linkage digest 2026-11-25: 3 new, 1 updated")


def test_html_is_autoescaped_text_is_not(tmp_path: Path) -> None:
    ntk = NeedToKnow(load_sharing(ROOT / "config"), _leads(tmp_path), RecordIndex(None))
    item = closed_entry("F<script>1", "significant_adult", "no_longer_found",
                        {"people": [{"role": "Child", "initials": "A.&.", "nhs": "n"}],
                         "recipient_roles": {"x": "Role <b>bold</b>"}}, "hv", NIGHT, ntk)
    reader = Recipient("hv", "Lead <One>", "Role & co", "hv@nhs.net", frozenset({"hv"}))
    subject, text, html = render_digest(NIGHT, reader, [item], ntk)
    assert "F&lt;script&gt;1" in html and "<script>" not in html and "Role &lt;b&gt;bold" in html
    assert "Lead &lt;One&gt;" in html and "A.&amp;." in html
    assert "F<script>1" in text and "Lead <One>" in text and "Role <b>bold</b>" in text
    assert subject == "Safeguarding linkage digest 2026-11-25: 0 new, 0 updated, 1 no longer found"


def test_mask_error() -> None:
    masked = mask_error("row 12: NHS 943 476 5919 / 9434765919, DOB 03/01/2015 or 2015-01-03, CH1 4BJ, CW71AJ")
    for value in ("943 476 5919", "9434765919", "03/01/2015", "2015-01-03", "CH1 4BJ", "CW71AJ"):
        assert value not in masked
    assert "row 12" in masked and len(mask_error("x" * 5000)) == 2000
