"""The rule registry: every safeguarding rule, once, in the order they run.

A rule is one module implementing :class:`Rule`, including how it presents its findings (``FACTS``,
``present``; the sharing matrix, config/sharing.yaml, decides who sees which fact). To add one: write the
module, add it to :data:`RULES`, give its defaults in ``config/rules.yaml``. The engine, the configuration model, the
finding ids, scoring and presentation all derive from this tuple. A rule may read the findings of the
rules before it (``cumulative_concern`` does), so order matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import polars as pl

from alerts.rules import (
    cumulative_concern,
    dual_service_parent,
    repeated_non_attendance,
    significant_adult,
    unshared_involvement,
)
from alerts.rules.frames import RuleInputs
from alerts.rules.presentation import FindingFacts
from alerts.rules.settings import RuleBase, RulesConfig


class Rule(Protocol):
    """What a rule module provides."""

    @property
    def NAME(self) -> str:
        """The rule's name, as written in findings.csv and rules.yaml."""

    @property
    def LABEL(self) -> str:
        """How the rule is titled for a reader (digests, report)."""

    @property
    def ID_KEYS(self) -> tuple[str, ...]:
        """The persons (``child_person_id``, ``adult_person_id``) that identify a finding across nights."""

    @property
    def Settings(self) -> type[RuleBase]:
        """The rule's settings model (``rules.<name>`` in rules.yaml)."""

    def detect(self, inputs: RuleInputs, config: RulesConfig, earlier: pl.DataFrame) -> pl.DataFrame:
        """The rule's findings (:data:`alerts.rules.frames.FINDING_SCHEMA`) from the night's facts."""
        ...

    @property
    def FACTS(self) -> frozenset[str]:
        """The facts :meth:`present` can produce: the names config/sharing.yaml may share."""

    def present(self, evidence: Mapping[str, Any], finding: Mapping[str, Any],
                labels: Mapping[str, str]) -> FindingFacts:
        """How a finding reads: a headline and plain-English facts per service (alerts.sharing filters them)."""
        ...


# Also the order digests and the report list rules in.
RULES: tuple[Rule, ...] = (
    significant_adult,
    dual_service_parent,
    repeated_non_attendance,
    unshared_involvement,
    cumulative_concern,
)
RULE_NAMES: tuple[str, ...] = tuple(rule.NAME for rule in RULES)
RULE_LABELS: dict[str, str] = {rule.NAME: rule.LABEL for rule in RULES}
ID_KEYS: dict[str, tuple[str, ...]] = {rule.NAME: rule.ID_KEYS for rule in RULES}
# How a finding's adult is introduced to a reader ("Adult" unless the rule module says otherwise, ADULT_ROLE).
ADULT_ROLES: dict[str, str] = {rule.NAME: str(getattr(rule, "ADULT_ROLE", "Adult")) for rule in RULES}


def rule(name: str) -> Rule:
    """The registered rule called ``name``.

    Args:
        name: a rule name.

    Raises:
        KeyError: no such rule (the message lists the registered ones).
    """
    for candidate in RULES:
        if name == candidate.NAME:
            return candidate
    raise KeyError(f"no rule {name!r}; registered: {', '.join(RULE_NAMES)}")
