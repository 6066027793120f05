"""``unshared_involvement``: a child open to CAMHS and to school nursing or health visiting, unshared.

Default (docs/data-contract.md): a child with an open camhs referral who is also open to sn or hv,
where the camhs ``KNOWN_PROFESSIONALS`` does not name that service, or that service's
``Other Services Involved`` does not name CAMHS. One finding per child.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import polars as pl
from pydantic import Field

from alerts.rules.frames import RuleInputs, empty_findings, finish, names_service, person_refs, person_routes
from alerts.rules.presentation import Fact, FindingFacts, record_ref
from alerts.rules.settings import RuleBase, RulesConfig

NAME = "unshared_involvement"
LABEL = "CAMHS and school nursing / health visiting involvement not shared"
ID_KEYS = ("child_person_id",)
SHOWN = {"hv": "health visiting", "sn": "school nursing"}


def _hv_sn() -> list[Literal["hv", "sn"]]:
    return ["hv", "sn"]


class Settings(RuleBase):
    """``unshared_involvement``: a child open to camhs and to sn/hv where the records do not show each other."""

    child_sources: list[Literal["hv", "sn"]] = Field(default_factory=_hv_sn)


def detect(inputs: RuleInputs, config: RulesConfig, earlier: pl.DataFrame) -> pl.DataFrame:
    """Apply the rule.

    Args:
        inputs: the night's facts.
        config: the rules configuration.
        earlier: the findings of the rules before this one (unused).
    """
    settings = config.settings(NAME, Settings)
    terms = config.service_terms
    records = inputs.records
    children = inputs.persons.filter(pl.col("is_child")).select("person_id")
    camhs = records.filter((pl.col("source") == "camhs") & pl.col("is_open")).join(
        children, on="person_id", how="semi"
    ).select(
        "person_id",
        pl.col("record_id").alias("camhs_record_id"), pl.col("file").alias("camhs_file"),
        pl.col("row").alias("camhs_row"), pl.col("other_services").alias("camhs_known_professionals"),
        names_service(pl.col("other_services"), terms["sn"]).alias("_names_sn"),
        names_service(pl.col("other_services"), terms["hv"]).alias("_names_hv"),
        pl.col("link_confidence").alias("_camhs_conf"),
    )
    other = records.filter(pl.col("source").is_in(settings.child_sources) & pl.col("is_open")).select(
        "person_id", "source", "record_id", "file", "row",
        pl.col("other_services").alias("other_services_involved"),
        names_service(pl.col("other_services"), terms["camhs"]).alias("service_names_camhs"),
        "link_confidence",
    )
    pairs = (
        camhs.join(other, on="person_id", how="inner")
        .with_columns(
            pl.when(pl.col("source") == "sn").then(pl.col("_names_sn")).otherwise(pl.col("_names_hv"))
            .alias("camhs_names_service"),
        )
        .filter(~pl.col("camhs_names_service") | ~pl.col("service_names_camhs"))
        .sort(["person_id", "camhs_record_id", "source", "record_id"])
    )
    if pairs.is_empty():
        return empty_findings()
    per_child = _per_child(pairs)
    evidence = pl.struct(
        pl.lit(NAME).alias("rule"),
        "open_record_pairs",
    ).struct.json_encode()
    routes = person_routes(records, ("camhs", *settings.child_sources))
    out = (
        per_child.with_columns(
            pl.lit(NAME).alias("rule"),
            pl.col("person_id").alias("child_person_id"),
            pl.lit(None, dtype=pl.String).alias("adult_person_id"),
            evidence.alias("evidence"),
            pl.format(
                "Child open to CAMHS and to another children's service without it being shared: {}",
                pl.col("_parts").list.join("; "),
            ).alias("summary"),
            pl.lit(None, dtype=pl.List(pl.String)).alias("adult_records"),
        )
        .join(person_refs(records).rename({"refs": "child_records"}), on="person_id", how="left")
        .join(routes, on="person_id", how="left")
    )
    return finish(out)


def _per_child(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per child: the unshared record pairs, the weakest link and what each pair does not show."""
    return pairs.group_by("person_id").agg(
        pl.struct(
            pl.struct(pl.lit("camhs").alias("source"), pl.col("camhs_record_id").alias("record_id"),
                      pl.col("camhs_file").alias("file"), pl.col("camhs_row").alias("row"),
                      pl.col("camhs_known_professionals").alias("known_professionals"),
                      "camhs_names_service").alias("camhs"),
            pl.struct("source", "record_id", "file", "row", "other_services_involved",
                      "service_names_camhs").alias("service"),
        ).alias("open_record_pairs"),
        pl.min_horizontal("_camhs_conf", "link_confidence").min().alias("link_confidence"),
        pl.format(
            "CAMHS ref {} and {} ref {}: {}",
            "camhs_record_id",
            pl.col("source").replace_strict(SHOWN, default="?"),
            "record_id",
            pl.concat_list(
                pl.when(~pl.col("camhs_names_service")).then(
                    pl.lit("CAMHS record does not list ") + pl.col("source").replace_strict(SHOWN, default="?")),
                pl.when(~pl.col("service_names_camhs")).then(
                    pl.col("source").replace_strict(SHOWN, default="?") + pl.lit(" record does not list CAMHS")),
            ).list.drop_nulls().list.join(" and "),
        ).alias("_parts"),
    )


# --- presentation: what the finding rests on, as facts per service (alerts/sharing decides who sees which)

FACTS = frozenset({"child_open", "not_shared"})


_SERVICE_WORDS = {"hv": "health visiting", "sn": "school nursing", "camhs": "CAMHS"}


def present(evidence: Mapping[str, Any], finding: Mapping[str, Any], labels: Mapping[str, str]) -> FindingFacts:
    """CAMHS and the school nursing or health visiting service, and what each record does not list.

    Args:
        evidence: the rule's evidence.
        finding: the finding row.
        labels: readable rule names.
    """
    facts: dict[str, Fact] = {}
    for pair in evidence.get("open_record_pairs") or []:
        if not isinstance(pair, Mapping):
            continue
        camhs, other = pair.get("camhs"), pair.get("service")
        if not isinstance(camhs, Mapping) or not isinstance(other, Mapping) or not other.get("source"):
            continue
        service = str(other["source"])
        word = _SERVICE_WORDS.get(service, service)
        facts.setdefault("child_open:camhs", Fact("child_open", "camhs", "The child has an open referral here.",
                                                  own_text="The child has an open referral with your service.",
                                                  records=record_ref(camhs)))
        facts.setdefault(f"child_open:{service}", Fact("child_open", service, "The child is on this caseload.",
                                                       own_text="The child is on your caseload.",
                                                       records=record_ref(other)))
        if camhs.get("camhs_names_service") is False:
            facts.setdefault(f"not_shared:camhs:{service}", Fact(
                "not_shared", "camhs", f"This service's record does not list {word}.",
                own_text=f"Your record does not list {word} among the professionals known to the child.",
                records=record_ref(camhs)))
        if other.get("service_names_camhs") is False:
            facts.setdefault(f"not_shared:{service}", Fact(
                "not_shared", service, "This service's record does not list CAMHS.",
                own_text="Your record does not list CAMHS among the other services involved.",
                records=record_ref(other)))
    headline = ("This child is open to CAMHS and to school nursing or health visiting, and the two records "
                "do not show each other.")
    return FindingFacts(headline, list(facts.values()))
