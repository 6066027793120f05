"""The send stage's fast paths return exactly what the general code they short-cut returns."""

from __future__ import annotations

import random
import textwrap
from dataclasses import asdict

from alerts.need_to_know import FindingView, PersonLine, ServiceBlock
from alerts.render import fill

SHAPES = [("", "  ", 76), ("  ", "  ", 76), ("    ", "", 20), ("", "", 3), ("      ", "  ", 5), ("", "  ", 1)]


def _textwrap_fill(text: str, indent: str, hanging: str, width: int) -> str:
    return textwrap.fill(" ".join(text.split()), width=width, initial_indent=indent,
                         subsequent_indent=indent + hanging, break_long_words=False, break_on_hyphens=False)


def test_fill_equals_textwrap_on_short_long_and_awkward_paragraphs() -> None:
    rng = random.Random(7)
    words = ["a", "NHS", "number", "*** *** 5919", "well-known", "x" * 90, "\t", "\u00a0", "\n", "  ", "é"]
    cases = ["", " ", "\n\t", "one", "x" * 76, "x" * 77, "y" * 74 + " z"]
    cases += [" ".join(rng.choice(words) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    for text in cases:
        for indent, hanging, width in SHAPES:
            assert fill(text, indent, hanging, width) == _textwrap_fill(text, indent, hanging, width), (text, indent)


def test_finding_view_as_dict_equals_dataclasses_asdict() -> None:
    view = FindingView(
        reference="F1", rule="r", rule_label="R", headline="h", people=[PersonLine("Child", "A.B.", "*** 1")],
        services=[ServiceBlock("gp", "GP", "t", "c", True, ["gp:1"], ["f1", "f2"]),
                  ServiceBlock("hv", "HV", "", "", False, [], [])],
        finding_facts=["g"], why_it_matters="w", next_step="n", lead="l", also_sent_to=["x", "y"],
        needs_confirmation="", respond="r", respond_url="u", first_seen="1 Jan", facts_by_key={"k": "v"})
    got = view.as_dict()
    assert got == asdict(view)
    assert list(got) == list(asdict(view))
    got["services"][0]["facts"].append("changed")
    assert view.services[0].facts == ["f1", "f2"]
