"""bench.rules_quality: pooling per-county scores and the docs table."""

from __future__ import annotations

from typing import Any

from bench.rules_quality import markdown, pooled
from evaluation.scoring import RULES


def _scores(per_rule: dict[str, tuple[int, int, int, float]]) -> dict[str, Any]:
    """``rule -> (run, truth, true_positive, precision)``; other rules perfect with 10 findings."""
    rules = {}
    for rule in RULES:
        run, truth, tp, precision = per_rule.get(rule, (10, 10, 10, 1.0))
        rules[rule] = {"run": run, "truth": truth, "true_positive": tp, "precision": precision,
                       "recall": tp / truth}
    return {"rules": rules, "linkage": {"precision": 1.0, "recall": 0.9975}}


def test_pooled_adds_findings_not_ratios() -> None:
    # 45 of 46 right in one county, 100 of 100 in the other: pooled 145 / 146, not the mean of the ratios
    a = _scores({"dual_service_parent": (46, 46, 45, 45 / 46)})
    b = _scores({"dual_service_parent": (100, 100, 100, 1.0)})
    total = pooled([a, b])
    assert total["dual_service_parent"] == {"run": 146, "truth": 146, "precision": round(145 / 146, 4),
                                            "recall": round(145 / 146, 4)}
    assert total["unshared_involvement"] == {"run": 20, "truth": 20, "precision": 1.0, "recall": 1.0}


def test_markdown_marks_a_rule_below_target() -> None:
    a = _scores({"dual_service_parent": (46, 46, 45, 45 / 46)})
    table = markdown([("5k, seed 22", a)], pooled([a]))
    row = next(line for line in table.splitlines() if line.startswith("| 5k, seed 22"))
    assert "**0.978 / 0.978 (46)**" in row
    assert "| 1.000 / 1.000 (10) |" in row
    assert row.endswith("| 1.0000 / 0.9975 |")
