"""``dual_service_parent``: a parent open to both adult services where the records do not show each other.

Default (docs/data-contract.md): an adult with an open tp episode and an open amh referral, who is a
parent (tp ``Parental Status`` begins ``Parent``, or amh ``Has Dependent Children`` is ``Yes``, or
the adult named a child in ``TP_Children`` or ``AMH_Dependants``), where the tp record's
``Other Services Known`` does not name mental health, or the amh record's
``Substance Misuse Service Involved`` is not ``Yes``.

One finding per adult. ``child_person_id`` is one of the children the adult named, resolved to a
person: the eldest (earliest date of birth; twins: the one the adult lists first), else blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from alerts.rules.frames import RuleInputs, empty_findings, finish, names_service, person_refs, person_routes
from alerts.rules.presentation import Fact, FindingFacts, record_ref
from alerts.rules.settings import RuleBase, RulesConfig

NAME = "dual_service_parent"
LABEL = "Parent open to substance misuse and mental health services without shared knowledge"
# The finding is about the adult: the child named alongside is "one of the adult's children" and may change
# without it being a different finding.
ID_KEYS = ("adult_person_id",)
ADULT_ROLE = "Parent"  # how the finding's adult is introduced to a reader
NAMING_KINDS = ("named_child", "dependant")


class Settings(RuleBase):
    """``dual_service_parent``: a parent open to both tp and amh where the records do not show each other."""

    parental_status_prefix: str = "Parent"
    has_dependent_children_yes: str = "Yes"
    substance_service_yes: str = "Yes"
    named_child_counts_as_parent: bool = True


def _eldest_named_child(kids: pl.DataFrame) -> pl.DataFrame:
    """``(person_id, child_person_id)``: per adult, the eldest child it named.

    Twins share a birth date: then the one the adult lists before the other (a list is in the
    family's order; rows of two different lists are not comparable), then tp's first-named, then the
    smallest person id.

    Args:
        kids: resolved naming mentions with ``owner_person_id``, ``mentioned_person_id``, ``_kdob``,
            ``source``, ``owner_record_id``, ``row``.
    """
    cand = kids.filter(pl.col("_kdob") == pl.col("_kdob").min().over("owner_person_id")).select(
        "owner_person_id", "mentioned_person_id", "source", "owner_record_id", "row")
    listed_after = (
        cand.join(cand, on=["owner_person_id", "source", "owner_record_id"], suffix="_b")
        .filter((pl.col("mentioned_person_id") != pl.col("mentioned_person_id_b")) & (pl.col("row_b") < pl.col("row")))
        .select("owner_person_id", "mentioned_person_id").unique()
    )
    named_order = pl.col("source").replace_strict({"tp": 0}, default=1, return_dtype=pl.Int64) * 10**9 + pl.col("row")
    undated = kids.join(cand.select("owner_person_id").unique(), on="owner_person_id", how="anti")
    return (
        pl.concat([cand.join(listed_after, on=["owner_person_id", "mentioned_person_id"], how="anti"),
                   undated.select(cand.columns)])
        .with_columns(named_order.min().over("owner_person_id", "mentioned_person_id").alias("_first_named"))
        .sort(["owner_person_id", "_first_named", "mentioned_person_id"])
        .unique(subset="owner_person_id", keep="first")
        .select(pl.col("owner_person_id").alias("person_id"), pl.col("mentioned_person_id").alias("child_person_id"))
    )


def detect(inputs: RuleInputs, config: RulesConfig, earlier: pl.DataFrame) -> pl.DataFrame:
    """Apply the rule.

    Args:
        inputs: the night's facts.
        config: the rules configuration.
        earlier: the findings of the rules before this one (unused).
    """
    settings = config.settings(NAME, Settings)
    records = inputs.records
    named = inputs.mentions.filter(pl.col("source").is_in(["tp", "amh"]) & pl.col("kind").is_in(NAMING_KINDS))
    pairs = _open_pairs(records, named, config, settings)
    if pairs.is_empty():
        return empty_findings()
    per_adult = _per_adult(pairs)
    kids = _named_kids(named, inputs.persons)
    named_rows = kids.group_by("owner_person_id").agg(
        pl.struct("source", pl.col("owner_record_id").alias("record_id"), "file", "row",
                  pl.col("mention_confidence").alias("confidence")).alias("named_children_rows"),
    )
    eldest = _eldest_named_child(kids)
    kid_routes = _kid_routes(kids, records)
    adult_routes = person_routes(records, ("tp", "amh")).rename({"routes": "_ar"})
    out = (
        per_adult.join(eldest, on="person_id", how="left")
        .join(named_rows.rename({"owner_person_id": "person_id"}), on="person_id", how="left")
        .join(adult_routes, on="person_id", how="left")
        .join(kid_routes, on="person_id", how="left")
        .with_columns(
            pl.lit(NAME).alias("rule"),
            pl.col("person_id").alias("adult_person_id"),
            _evidence().alias("evidence"),
            _summary().alias("summary"),
            pl.concat_list(pl.col("_ar").fill_null([]), pl.col("_kr").fill_null([])).list.unique().list.sort()
            .alias("routes"),
        )
        .join(person_refs(records).rename({"refs": "adult_records"}), on="person_id", how="left")
        .join(person_refs(records).rename({"person_id": "child_person_id", "refs": "child_records"}),
              on="child_person_id", how="left")
    )
    return finish(out)


def _open_pairs(records: pl.DataFrame, named: pl.DataFrame, config: RulesConfig, settings: Settings) -> pl.DataFrame:
    """Each parent's open tp and amh records paired, where either record does not show the other service."""
    mh = names_service(pl.col("other_services"), config.service_terms["mental_health"])
    tp = records.filter((pl.col("source") == "tp") & pl.col("is_open")).select(
        "person_id",
        pl.col("record_id").alias("tp_record_id"), pl.col("file").alias("tp_file"), pl.col("row").alias("tp_row"),
        pl.col("link_confidence").alias("tp_conf"),
        pl.col("parental_status").fill_null("").str.strip_chars()
        .str.starts_with(settings.parental_status_prefix).alias("tp_parent"),
        pl.col("parental_status").alias("tp_parental_status"),
        pl.col("other_services").alias("tp_other_services_known"),
        mh.alias("tp_names_other_service"),
    )
    amh = records.filter((pl.col("source") == "amh") & pl.col("is_open")).select(
        "person_id",
        pl.col("record_id").alias("amh_record_id"), pl.col("file").alias("amh_file"), pl.col("row").alias("amh_row"),
        pl.col("link_confidence").alias("amh_conf"),
        (pl.col("has_dependent_children").fill_null("").str.strip_chars() == settings.has_dependent_children_yes)
        .alias("amh_parent"),
        pl.col("has_dependent_children").alias("amh_has_dependent_children"),
        pl.col("substance_service_involved").alias("amh_substance_service_involved"),
        (pl.col("substance_service_involved").fill_null("").str.strip_chars() == settings.substance_service_yes)
        .alias("amh_names_other_service"),
    )
    named_any = named.select(pl.col("owner_person_id").alias("person_id")).unique().with_columns(
        pl.lit(settings.named_child_counts_as_parent).alias("named_a_child")
    )
    pairs = (
        tp.join(amh, on="person_id", how="inner")
        .join(named_any, on="person_id", how="left")
        .with_columns(pl.col("named_a_child").fill_null(False))
        .filter(pl.col("tp_parent") | pl.col("amh_parent") | pl.col("named_a_child"))
        .filter(~pl.col("tp_names_other_service") | ~pl.col("amh_names_other_service"))
        .sort(["person_id", "tp_record_id", "amh_record_id"])
    )
    return pairs


def _per_adult(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per adult: the open record pairs, the weakest link, the references and which side is silent."""
    return pairs.group_by("person_id").agg(
        pl.struct(
            pl.struct(pl.lit("tp").alias("source"), pl.col("tp_record_id").alias("record_id"),
                      pl.col("tp_file").alias("file"), pl.col("tp_row").alias("row"),
                      pl.col("tp_parental_status").alias("parental_status"),
                      pl.col("tp_other_services_known").alias("other_services_known"),
                      pl.col("tp_names_other_service").alias("names_service_b")).alias("service_a"),
            pl.struct(pl.lit("amh").alias("source"), pl.col("amh_record_id").alias("record_id"),
                      pl.col("amh_file").alias("file"), pl.col("amh_row").alias("row"),
                      pl.col("amh_has_dependent_children").alias("has_dependent_children"),
                      pl.col("amh_substance_service_involved").alias("substance_service_involved"),
                      pl.col("amh_names_other_service").alias("names_service_a")).alias("service_b"),
        ).alias("open_record_pairs"),
        pl.min_horizontal("tp_conf", "amh_conf").min().alias("link_confidence"),
        pl.col("tp_record_id").unique().sort().alias("_a_refs"),
        pl.col("amh_record_id").unique().sort().alias("_b_refs"),
        (~pl.col("tp_names_other_service")).any().alias("_a_silent"),
        (~pl.col("amh_names_other_service")).any().alias("_b_silent"),
        pl.col("named_a_child").any(),
    )


def _named_kids(named: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    """The resolved children each adult named, with the child's date of birth (the person's, else the row's)."""
    return (
        named.filter(pl.col("mentioned_person_id").is_not_null())
        .join(persons.select(pl.col("person_id").alias("mentioned_person_id"), pl.col("dob").alias("_pdob")),
              on="mentioned_person_id", how="left")
        .with_columns(pl.coalesce("_pdob", "dob").alias("_kdob"))
        .sort(["owner_person_id", "source", "file", "row"])
    )


def _kid_routes(kids: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Per adult: the hv/sn routes of the children they named."""
    return (
        kids.select("owner_person_id", "mentioned_person_id").unique()
        .join(person_routes(records, ("hv", "sn")), left_on="mentioned_person_id", right_on="person_id", how="inner")
        .explode("routes")
        .group_by("owner_person_id").agg(pl.col("routes").unique().sort().alias("_kr"))
        .rename({"owner_person_id": "person_id"})
    )


def _evidence() -> pl.Expr:
    """The finding's evidence JSON."""
    return pl.struct(
        pl.lit(NAME).alias("rule"),
        "open_record_pairs", "named_a_child",
        pl.col("named_children_rows").fill_null(pl.lit([], dtype=pl.List(pl.Struct({
            "source": pl.String(), "record_id": pl.String(), "file": pl.String(), "row": pl.Int64(),
            "confidence": pl.Float64(),
        })))),
    ).struct.json_encode()


def _summary() -> pl.Expr:
    """The one-line summary (adult services as A and B, no names)."""
    gaps = pl.concat_list(
        pl.when(pl.col("_a_silent")).then(pl.lit("the service A record does not list service B")),
        pl.when(pl.col("_b_silent")).then(pl.lit("the service B record does not confirm service A")),
    ).list.drop_nulls().list.join(" and ")
    return pl.format(
        "Parent open to adult service A (ref {}) and adult service B (ref {}); {}",
        pl.col("_a_refs").list.join(", "), pl.col("_b_refs").list.join(", "), gaps,
    )



# --- presentation: what the finding rests on, as facts per service (alerts/sharing decides who sees which)

FACTS = frozenset({"adult_open", "parent", "not_shared", "child_service"})


_PARENT_TEXT = {
    "tp": ("This service's record says the adult is a parent.", "Your record says the adult is a parent ({value})."),
    "amh": ("This service's record says the adult has dependent children.",
            "Your record says the adult has dependent children."),
}
_NOT_SHARED_DSP = {
    "tp": ("This service's record does not list mental health services.",
           "Your record does not list mental health services among the other services known to the client."),
    "amh": ("This service's record does not show that a substance misuse service is involved.",
            "Your record does not show substance misuse service involvement (recorded as: {value})."),
}


def _present_side(side: Mapping[str, Any], facts: dict[str, Fact]) -> None:
    service = str(side.get("source") or "")
    if not service:
        return
    refs = record_ref(side)
    facts.setdefault(f"adult_open:{service}", Fact(
        "adult_open", service, "The parent is open to this service.", own_text="The parent is open to your service.",
        records=refs))
    value = side.get("parental_status") if service == "tp" else side.get("has_dependent_children")
    is_parent = (isinstance(value, str) and value.strip().lower().startswith("parent")) if service == "tp" else (
        isinstance(value, str) and value.strip().lower() == "yes")
    if is_parent and service in _PARENT_TEXT:
        text, own = _PARENT_TEXT[service]
        facts.setdefault(f"parent:{service}", Fact("parent", service, text, own_text=own.format(value=value),
                                                   records=refs))
    names_other = side.get("names_service_b") if service == "tp" else side.get("names_service_a")
    if names_other is False and service in _NOT_SHARED_DSP:
        text, own = _NOT_SHARED_DSP[service]
        shown = side.get("substance_service_involved") or "blank"
        facts.setdefault(f"not_shared:{service}", Fact("not_shared", service, text,
                                                       own_text=own.format(value=shown), records=refs))


def present(evidence: Mapping[str, Any], finding: Mapping[str, Any], labels: Mapping[str, str]) -> FindingFacts:
    """Both adult services, that the adult is a parent, what each record does not show, the child's services.

    Args:
        evidence: the rule's evidence.
        finding: the finding row (``child_records``: the named child's records, for the child's services).
        labels: readable rule names.
    """
    child_records = [str(r) for r in finding.get("child_records") or []]
    facts: dict[str, Fact] = {}
    for pair in evidence.get("open_record_pairs") or []:
        if isinstance(pair, Mapping):
            for side in (pair.get("service_a"), pair.get("service_b")):
                if isinstance(side, Mapping):
                    _present_side(side, facts)
    for item in evidence.get("named_children_rows") or []:
        if isinstance(item, Mapping) and item.get("source"):
            service = str(item["source"])
            facts.setdefault(f"named:{service}", Fact(
                "parent", service, "The adult named a child on this service's record.",
                own_text="The adult named a child on your record.", records=record_ref(item)))
    for service in ("hv", "sn"):
        refs = tuple(r for r in child_records if r.startswith(f"{service}:"))
        if refs:
            facts.setdefault(f"child_service:{service}", Fact(
                "child_service", service, "The parent's child is open to this service.",
                own_text="The parent's child is open to your service.", records=refs))
    headline = ("A parent is open to both a substance misuse service and an adult mental health service, and "
                "the two records do not show each other.")
    return FindingFacts(headline, list(facts.values()))
