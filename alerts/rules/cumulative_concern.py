"""``cumulative_concern``: a child named by findings of several different rules on one night.

Default (docs/data-contract.md): a child named as the child by findings of at least two different
rules among the others on the same extract date (for ``dual_service_parent``, the child that finding
names). One finding per child, no adult. Signals that each service sees alone add up here, so it goes
to the designated professionals and to every lead who received one of its findings.

It reads the findings of the rules before it in the registry, not the records: a child counts for a
rule when at least one of that rule's findings names them. A finding needs confirmation when fewer
than ``min_rules`` of the rules name the child with a confirmed finding: its link confidence is the
``min_rules``-th highest of the per-rule best confidences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from pydantic import Field

from alerts.rules.frames import DESIGNATED_ROUTE, RuleInputs, empty_findings, finish, person_refs
from alerts.rules.presentation import Fact, FindingFacts
from alerts.rules.settings import RuleBase, RulesConfig

NAME = "cumulative_concern"
LABEL = "Concerns adding up: the child is named by findings of several rules"
ID_KEYS = ("child_person_id",)


class Settings(RuleBase):
    """``cumulative_concern``: how many different rules must name the child."""

    min_rules: int = Field(default=2, ge=2, description="different rules naming the child on the same night")


def detect(inputs: RuleInputs, config: RulesConfig, earlier: pl.DataFrame) -> pl.DataFrame:
    """Apply the rule to the findings the other rules made tonight.

    Args:
        inputs: the night's facts (for the child's records).
        config: the rules configuration.
        earlier: the findings of the rules before this one, with ``finding_id``.
    """
    settings = config.settings(NAME, Settings)
    named = earlier.filter(pl.col("child_person_id").is_not_null() & (pl.col("rule") != NAME))
    per_rule = (
        named.sort("finding_id")
        .group_by("child_person_id", "rule")
        .agg(
            pl.col("link_confidence").max().alias("confidence"),
            pl.col("finding_id"),
            pl.col("routes").explode().drop_nulls().unique().sort().alias("routes"),
        )
    )
    per_child = (
        per_rule.sort(["child_person_id", "rule"])
        .group_by("child_person_id")
        .agg(
            pl.len().alias("n_rules"),
            pl.col("rule").alias("rules"),
            pl.struct("rule", "finding_id").alias("findings"),
            pl.col("confidence").sort(descending=True).alias("_confidences"),
            pl.col("routes").explode().drop_nulls().unique().sort().alias("_routes"),
        )
        .filter(pl.col("n_rules") >= settings.min_rules)
    )
    if per_child.is_empty():
        return empty_findings()
    evidence = pl.struct(pl.lit(NAME).alias("rule"), "n_rules", "rules", "findings").struct.json_encode()
    out = (
        per_child.with_columns(
            pl.lit(NAME).alias("rule"),
            pl.lit(None, dtype=pl.String).alias("adult_person_id"),
            evidence.alias("evidence"),
            pl.col("_confidences").list.get(settings.min_rules - 1).alias("link_confidence"),
            # the count only: which rules fired is in the evidence, shown as the recipient's role allows
            pl.format("Child named tonight by findings of {} different safeguarding rules", "n_rules").alias("summary"),
            pl.concat_list(pl.col("_routes"), pl.lit([DESIGNATED_ROUTE])).list.unique().list.sort().alias("routes"),
            pl.lit(None, dtype=pl.List(pl.String)).alias("adult_records"),
        )
        .join(person_refs(inputs.records).rename({"person_id": "child_person_id", "refs": "child_records"}),
              on="child_person_id", how="left")
    )
    return finish(out)


# --- presentation: what the finding rests on, as facts per service (alerts/sharing decides who sees which)

FACTS = frozenset({"rules_found", "child_service"})


def present(evidence: Mapping[str, Any], finding: Mapping[str, Any], labels: Mapping[str, str]) -> FindingFacts:
    """Which rules named the child tonight, and the child's services.

    Args:
        evidence: the rule's evidence (``rules``: the rules that named the child).
        finding: the finding row (``child_records``: the child's records, for the child's services).
        labels: readable rule names.
    """
    child_records = [str(r) for r in finding.get("child_records") or []]
    rules = [str(r) for r in evidence.get("rules") or [] if isinstance(r, str)]
    named = [labels.get(r, r.replace("_", " ")) for r in rules]
    facts = [Fact("rules_found", None, "Tonight's findings about this child: " + "; ".join(named) + ".")] if named \
        else []
    services = sorted({r.split(":", 1)[0] for r in child_records if ":" in r})
    for service in services:
        refs = tuple(r for r in child_records if r.startswith(f"{service}:"))
        facts.append(Fact("child_service", service, "The child is known to this service.",
                          own_text="The child is known to your service.", records=refs))
    count = int(evidence.get("n_rules") or len(rules) or 2)
    headline = f"This child is named tonight by findings of {count} different safeguarding rules."
    return FindingFacts(headline, facts)
