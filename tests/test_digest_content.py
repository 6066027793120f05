"""What a digest shows: initials, masked NHS numbers, safe evidence, escaped HTML, generic subjects."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from alerts.digests import digest_subject, mask_error, render_digest
from alerts.present import PeopleIndex, confidence_label, evidence_lines, initials, mask_nhs

NIGHT = dt.date(2026, 11, 25)


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


def test_people_index_view() -> None:
    people = pl.DataFrame({"source": ["hv", "gp", "gp"], "record_id": ["1", "2", "3"],
                           "forename": ["Amy", "Amy", "Bo"], "surname": ["Roe", "Roe", "Lee"],
                           "nhs_number": ["9434765919", "9434765919", None]})
    view = PeopleIndex(people).view("Child", ["hv:1", "gp:2", "dental:P9"], 4, True)
    assert view.initials == "A.R." and view.nhs == "*** *** 5919"
    assert view.records == ["Health visiting 1", "GP 2", "Dental P9"]
    assert PeopleIndex(None).view("Adult", ["tp:TP1"], 4, False).as_dict() == {
        "role": "Adult", "initials": "?.?.", "nhs": "not recorded", "records": []}


def test_evidence_keeps_dates_and_codes_drops_personal_data() -> None:
    evidence = {
        "rule": "repeated_non_attendance", "n_missed": 3, "lower_threshold_applied": False,
        "missed_appointments": [
            {"source": "hv", "record_id": "104500", "appt_date": "2026-10-01", "outcome_raw": "Was Not Brought",
             "file": "HV_Contacts_20261125.csv", "staff": "Louise Rimmer"},
        ],
        "related_people_rows_checked": [{"related_forename": "willow", "relationship": "mother"}],
        "child_dob": "2026-05-05", "postcode": "ch1 4bj", "note": "Mother said <b>no</b>",
    }
    text = "\n".join(evidence_lines(json.dumps(evidence)))
    assert "n missed 3" in text and "repeated_non_attendance" not in text
    assert "2026-10-01" in text and "hv" in text and "104500" in text
    for banned in ("Louise", "Rimmer", "willow", "2026-05-05", "ch1 4bj", "Mother said", "HV_Contacts"):
        assert banned not in text
    assert evidence_lines("not json") == [] and evidence_lines(None) == []


def test_confidence_label() -> None:
    assert confidence_label(0.9734) == "97.3%" and confidence_label(None) == "not stated"


def test_subject_is_generic() -> None:
    assert digest_subject(NIGHT, {"new": 3, "updated": 1, "no_longer_found": 0, "moved": 0}) == (
        "Safeguarding linkage digest 2026-11-25: 3 new, 1 updated")


def test_html_is_autoescaped_text_is_not() -> None:
    item = {"finding_id": "F<script>1", "change": "new", "change_label": "New", "rule": "significant_adult",
            "needs_confirmation": False, "people": [{"role": "Child", "initials": "A.&.", "nhs": "n", "records": []}],
            "summary": "a <b>summary</b>", "evidence": ["x < y"], "confidence": "90.0%",
            "first_seen": "2026-11-25", "when_label": "found", "when": "2026-11-25"}
    subject, text, html = render_digest(NIGHT, "Lead <One>", "Role & co", [item])
    assert "F&lt;script&gt;1" in html and "<script>" not in html and "a &lt;b&gt;summary" in html
    assert "Lead &lt;One&gt;" in html and "x &lt; y" in html
    assert "F<script>1" in text and "Lead <One>" in text
    assert subject == "Safeguarding linkage digest 2026-11-25: 1 new, 0 updated"


def test_mask_error() -> None:
    masked = mask_error("row 12: NHS 943 476 5919 / 9434765919, DOB 03/01/2015 or 2015-01-03, CH1 4BJ, CW71AJ")
    for value in ("943 476 5919", "9434765919", "03/01/2015", "2015-01-03", "CH1 4BJ", "CW71AJ"):
        assert value not in masked
    assert "row 12" in masked and len(mask_error("x" * 5000)) == 2000
