"""Every rule x recipient kind of the sharing matrix, rendered: a golden file shows exactly what is shared.

The golden files (tests/golden/digests/<rule>/<kind>.txt) are reviewed data: the text part of a digest
holding one finding of the rule, as a lead of that kind receives it. After changing config/sharing.yaml,
alerts/facts.py or the templates, regenerate them and review the diff:

    pytest tests/test_sharing_golden.py --update-golden
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from alerts.compose import open_entry, render_digest
from alerts.need_to_know import NeedToKnow, Recipient, designated_recipient
from alerts.sharing import load_sharing
from tests.helpers.digest_fixtures import NIGHT, ROOT, findings, need_to_know
from tests.helpers.mail import visible_text

GOLDEN = ROOT / "tests" / "golden" / "digests"
MATRIX = load_sharing(ROOT / "config")
CASES = [(rule, kind) for rule, sharing in MATRIX.rules.items() for kind in sharing.recipients]
UNLISTED = "unlisted"  # a recipient kind the matrix does not name: gets the rule's default entry


def _reader(ntk: NeedToKnow, kind: str) -> Recipient:
    if kind == "designated":
        return designated_recipient(ntk.leads)
    if kind == "default":
        return Recipient(UNLISTED, "A lead of a service not in the matrix", "Safeguarding lead (other service)",
                         "other@nhs.net", frozenset({UNLISTED}))
    return ntk.recipient(kind)


def _finding_for(rule: str, kind: str) -> dict[str, Any]:
    candidates = findings()[rule]
    for finding in candidates:
        services = {r.split(":", 1)[0] for r in [*finding["child_records"], *finding["adult_records"],
                                                 *finding["routes"]]}
        if kind in services:
            return finding
    return candidates[0]


def render_case(tmp_path: Path, rule: str, kind: str) -> tuple[dict[str, Any], str, str]:
    """One digest holding the rule's finding, for a reader of this kind: the entry, text and HTML."""
    ntk = need_to_know(tmp_path / "config")
    finding = _finding_for(rule, kind)
    reader = _reader(ntk, kind)
    everyone = ntk.recipients_of(finding)
    view = ntk.view(finding, reader, everyone)
    entry = open_entry(view, "new", NIGHT, None, ntk, reader, bool(finding["needs_confirmation"]))
    _, text, html = render_digest(NIGHT, reader, [entry], ntk)
    return entry, text, html


def said(entry: dict[str, Any]) -> list[str]:
    """Every sentence an entry says (headline, facts, record ids, contacts, next step ...)."""
    out = [entry["headline"], entry["why_it_matters"], entry["next_step"], entry["lead"], entry["respond"],
           *entry["finding_facts"], *entry["also_sent_to"], entry["needs_confirmation"]]
    for block in entry["services"]:
        out += [block["name"], block["team"], block["contact"], ", ".join(block["record_ids"]), *block["facts"]]
    for person in entry["people"]:
        out += [person["initials"], person["nhs"]]
    return [s for s in out if s]


@pytest.mark.parametrize(("rule", "kind"), CASES, ids=[f"{r}-{k}" for r, k in CASES])
def test_golden_digest(tmp_path: Path, rule: str, kind: str, update_golden: bool) -> None:
    entry, text, html = render_case(tmp_path, rule, kind)
    path = GOLDEN / rule / f"{kind}.txt"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run pytest {__file__} --update-golden and review it"
    assert text == path.read_text(encoding="utf-8"), f"{path} differs: review, then regenerate with --update-golden"
    # the HTML part says the same as the text part
    seen_html, seen_text = visible_text(html), " ".join(text.split())
    for sentence in said(entry):
        flat = " ".join(sentence.split())
        assert flat in seen_html, f"HTML part lacks: {flat}"
        assert flat in seen_text, f"text part lacks: {flat}"
    # every finding carries the lines a reader acts on
    for label in ("What was found:", "Next step:", "Also sent to:", "Lead for this finding:"):
        assert label in text and label in seen_html


@pytest.mark.parametrize(("rule", "kind"), CASES, ids=[f"{r}-{k}" for r, k in CASES])
def test_golden_digest_shares_only_what_the_matrix_allows(tmp_path: Path, rule: str, kind: str) -> None:
    entry, text, _ = render_case(tmp_path, rule, kind)
    own = set() if kind in ("designated", "default") else {kind}
    for block in entry["services"]:
        if block["service"] not in own:
            assert block["record_ids"] == [], f"another service's record ids shown: {block}"
            assert block["contact"], f"another service shown without its safeguarding contact: {block}"
    assert not re.search(r"\b\d{1,2}:\d{2}\b", text), "a time of day is shown"
    for raw in ("FTA", "WNB", "Did Not Attend", "Was Not Brought", "named_child", "gp_address", "is_open",
                "lower_threshold", "n_missed", ".csv", "machine summary"):
        assert raw not in text, f"raw code or field name shown: {raw}"
    assert all(len(line) <= 80 for line in text.splitlines()), "the text part is not wrapped for a text-only reader"
    if rule == "significant_adult" and kind == "amh":
        assert "Turning Point" not in text and "substance misuse" not in text.split("Why it matters")[0]
    if rule == "repeated_non_attendance" and kind == "dental":
        assert "looked after" not in text and "child protection plan" not in text
