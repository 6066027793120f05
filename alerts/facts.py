"""A finding as facts: each rule presents its own evidence (the rule module's ``present`` hook, through the
rule registry), with the types and helpers of :mod:`alerts.rules.presentation`.

Which facts reach which recipient is decided by the sharing matrix (:mod:`alerts.sharing`), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.rules.presentation import (
    GENERIC_FACTS,
    OWN_ONLY_FACTS,
    Fact,
    FindingFacts,
    long_date,
    parse_evidence,
    period,
)
from alerts.rules.registry import RULES

__all__ = ["GENERIC_FACTS", "OWN_ONLY_FACTS", "RULE_FACTS", "Fact", "FindingFacts", "finding_facts", "long_date",
           "period"]

# The facts each registered rule can produce (the names the sharing matrix may list).
RULE_FACTS: dict[str, frozenset[str]] = {rule.NAME: GENERIC_FACTS | rule.FACTS for rule in RULES}


def finding_facts(finding: Mapping[str, Any], rule_labels: Mapping[str, str]) -> FindingFacts:
    """The facts of one finding row (``rule``, ``evidence``, ``child_records`` ...).

    A rule that is not registered gets a headline naming it and no service facts: its recipients see
    their own record ids and nothing else.

    Args:
        finding: a ``findings.parquet`` row.
        rule_labels: readable rule names.
    """
    name = str(finding.get("rule") or "")
    for rule in RULES:
        if name == rule.NAME:
            return rule.present(parse_evidence(finding.get("evidence")), finding, rule_labels)
    return FindingFacts(f"A finding of the rule '{rule_labels.get(name, name)}'.")
