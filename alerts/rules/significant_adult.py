"""``significant_adult``: an adult known to adult services, linked to a child, missing from the child's record.

Default (docs/data-contract.md): a child open to hv or sn, and an adult with a record in tp or amh
who is linked to that child, where the adult is not on the child's hv or sn related-people records.
Linked means: the adult named the child (``TP_Children``, ``AMH_Dependants``), or the adult and the
child are registered at the same gp address (``Number and Street`` + ``Postcode``, normalised).

"On the child's related-people records" is decided by mention resolution (a related-people row
resolved to the adult); as a fallback, an unresolved (or weakly resolved) row whose forename
(nickname-aware) and surname match one of the adult's records, and whose date of birth (when given)
agrees, also counts as naming the adult.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Literal

import polars as pl
from pydantic import Field

from alerts.rules.frames import (
    RuleInputs,
    empty_findings,
    finish,
    fold_name,
    forename_keys,
    gp_address_key,
    person_refs,
    person_routes,
    surname_keys,
)
from alerts.rules.presentation import Fact, FindingFacts, plural, record_ref
from alerts.rules.settings import RuleBase, RulesConfig

NAME = "significant_adult"
LABEL = "Significant adult not on the child's record"
ID_KEYS = ("child_person_id", "adult_person_id")
SERVICE_LETTER = {"tp": "A", "amh": "B"}
NAMING_KINDS = ("named_child", "dependant")



def _hv_sn() -> list[Literal["hv", "sn"]]:
    return ["hv", "sn"]


def _tp_amh() -> list[Literal["tp", "amh"]]:
    return ["tp", "amh"]


class Settings(RuleBase):
    """``significant_adult``: an adult known to adult services linked to a child, absent from the child's record."""

    child_sources: list[Literal["hv", "sn"]] = Field(default_factory=_hv_sn)
    adult_sources: list[Literal["tp", "amh"]] = Field(default_factory=_tp_amh)
    link_by_named_child: bool = True
    link_by_gp_address: bool = True
    name_fallback: bool = Field(
        default=True, description="a related-people row naming the adult (nickname-aware forename + surname) counts"
    )
    fallback_forename_similarity: float = Field(default=0.85, ge=0.0, le=1.0)


_LINK_SCHEMA = {
    "adult_person_id": pl.String(), "child_person_id": pl.String(), "via": pl.String(),
    "source": pl.String(), "record_id": pl.String(), "file": pl.String(), "row": pl.Int64(),
    "other_record_id": pl.String(), "confidence": pl.Float64(),
}


def _links(inputs: RuleInputs, config: RulesConfig) -> pl.DataFrame:
    settings = config.settings(NAME, Settings)
    parts: list[pl.DataFrame] = []
    if settings.link_by_named_child:
        named = inputs.mentions.filter(
            pl.col("source").is_in(settings.adult_sources)
            & pl.col("kind").is_in(NAMING_KINDS)
            & pl.col("mentioned_person_id").is_not_null()
        ).select(
            pl.col("owner_person_id").alias("adult_person_id"),
            pl.col("mentioned_person_id").alias("child_person_id"),
            pl.lit("named_child").alias("via"),
            "source",
            pl.col("owner_record_id").alias("record_id"),
            "file",
            "row",
            pl.lit(None, dtype=pl.String).alias("other_record_id"),
            pl.col("mention_confidence").alias("confidence"),
        )
        parts.append(named)
    if settings.link_by_gp_address:
        gp = inputs.records.filter(pl.col("source") == "gp").with_columns(
            gp_address_key(pl.col("address_line1"), pl.col("postcode_raw")).alias("_addr")
        ).filter(pl.col("_addr").is_not_null()).select("_addr", "person_id", "record_id", "file", "row",
                                                         "link_confidence")
        same = gp.join(gp, on="_addr", suffix="_c").filter(pl.col("person_id") != pl.col("person_id_c"))
        parts.append(
            same.select(
                pl.col("person_id").alias("adult_person_id"),
                pl.col("person_id_c").alias("child_person_id"),
                pl.lit("gp_address").alias("via"),
                pl.lit("gp").alias("source"),
                "record_id",
                "file",
                "row",
                pl.col("record_id_c").alias("other_record_id"),
                pl.min_horizontal("link_confidence", "link_confidence_c").alias("confidence"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=_LINK_SCHEMA)
    return pl.concat([p.cast(_LINK_SCHEMA) for p in parts], how="vertical")  # type: ignore[arg-type]


def _jaro_winkler(pair: pl.Series) -> pl.Series:
    """Element-wise Jaro-Winkler similarity of a struct series of two strings (batch, no row loop)."""
    from rapidfuzz.distance import JaroWinkler
    from rapidfuzz.process import cpdist

    left = pair.struct.field("a").fill_null("").to_list()
    right = pair.struct.field("b").fill_null("").to_list()
    if not left:
        return pl.Series([], dtype=pl.Float64)
    scores = cpdist(left, right, scorer=JaroWinkler.normalized_similarity, workers=1)
    return pl.Series(scores.tolist(), dtype=pl.Float64)


def _key_lists(frame: pl.DataFrame, nicknames: pl.DataFrame, forename: str, surname: str) -> pl.DataFrame:
    """Add ``_fnk`` (folded forename + alias groups) and ``_snk`` (folded surname + hyphen parts) lists."""
    frame = frame.with_row_index("_k")
    fnk = forename_keys(frame.select("_k", forename), forename, nicknames).group_by("_k").agg(
        pl.col("name_key").alias("_fnk"))
    snk = surname_keys(frame.select("_k", surname), surname).group_by("_k").agg(pl.col("surname_key").alias("_snk"))
    return frame.join(fnk, on="_k", how="left").join(snk, on="_k", how="left").drop("_k")


def _present(inputs: RuleInputs, config: RulesConfig, candidates: pl.DataFrame) -> pl.DataFrame:
    """(child_person_id, adult_person_id) pairs where the adult is on the child's related-people records.

    A row resolved to the adult counts. With ``name_fallback``, a row left unresolved (or resolved below
    the link threshold) also counts when, against one of the adult's records, its date of birth (if both
    are known) agrees and either the surnames agree (whole or a hyphen part) and the forenames are close
    (alias group or Jaro-Winkler >= ``fallback_forename_similarity``: typing errors), or the forenames are
    the same or aliases (a changed surname).
    """
    settings = config.settings(NAME, Settings)
    related = inputs.mentions.filter(
        pl.col("source").is_in(settings.child_sources) & (pl.col("kind") == "related_person")
    ).rename({"owner_person_id": "child_person_id"})
    resolved = related.filter(pl.col("mentioned_person_id").is_not_null()).select(
        "child_person_id", pl.col("mentioned_person_id").alias("adult_person_id")
    )
    if not settings.name_fallback:
        return resolved.unique()
    weak = related.filter(
        pl.col("mentioned_person_id").is_null() | (pl.col("mention_confidence") < config.link_threshold)
    ).select("child_person_id", "forename", "surname", pl.col("dob").alias("related_dob"))
    weak = weak.join(candidates, on="child_person_id", how="inner")
    if weak.is_empty():
        return resolved.unique()
    names = inputs.records.join(candidates.select("adult_person_id").unique(), left_on="person_id",
                                right_on="adult_person_id", how="semi")
    names = pl.concat(
        [
            names.select(pl.col("person_id").alias("adult_person_id"), pl.col("forename").alias("a_forename"),
                         pl.col("surname").alias("a_surname")),
            names.select(pl.col("person_id").alias("adult_person_id"), pl.col("known_as").alias("a_forename"),
                         pl.col("surname").alias("a_surname")),
        ]
    ).filter(pl.col("a_forename").is_not_null()).unique()
    names = _key_lists(names, inputs.nicknames, "a_forename", "a_surname").rename(
        {"_fnk": "a_fnk", "_snk": "a_snk"}).join(
        inputs.persons.select(pl.col("person_id").alias("adult_person_id"), pl.col("dob").alias("adult_dob")),
        on="adult_person_id", how="left")
    weak = _key_lists(weak, inputs.nicknames, "forename", "surname")
    pairs = weak.join(names, on="adult_person_id", how="inner").with_columns(
        pl.struct(fold_name(pl.col("forename")).alias("a"), fold_name(pl.col("a_forename")).alias("b"))
        .map_batches(_jaro_winkler, return_dtype=pl.Float64).alias("_jw"),
        (pl.col("_fnk").list.set_intersection("a_fnk").list.len() > 0).fill_null(False).alias("_fn_alias"),
        (pl.col("_snk").list.set_intersection("a_snk").list.len() > 0).fill_null(False).alias("_sn_same"),
    )
    dob_ok = (
        pl.col("related_dob").is_null() | pl.col("adult_dob").is_null() | (pl.col("related_dob") == pl.col("adult_dob"))
    )
    close = pl.col("_fn_alias") | (pl.col("_jw") >= settings.fallback_forename_similarity)
    by_name = pairs.filter(dob_ok & ((pl.col("_sn_same") & close) | pl.col("_fn_alias"))).select(
        "child_person_id", "adult_person_id"
    )
    return pl.concat([resolved, by_name]).unique()


def detect(inputs: RuleInputs, config: RulesConfig, earlier: pl.DataFrame) -> pl.DataFrame:
    """Apply the rule.

    Args:
        inputs: the night's facts.
        config: the rules configuration.
        earlier: the findings of the rules before this one (unused).
    """
    settings = config.settings(NAME, Settings)
    records = inputs.records
    child_recs = records.filter(pl.col("source").is_in(settings.child_sources) & pl.col("is_open"))
    adult_recs = records.filter(pl.col("source").is_in(settings.adult_sources))
    links = _missing_links(inputs, config, child_recs, adult_recs)
    if links.is_empty():
        return empty_findings()
    per_pair = _per_pair(inputs, settings, links, child_recs, adult_recs)
    child_route = person_routes(records, settings.child_sources).rename(
        {"person_id": "child_person_id", "routes": "_cr"})
    adult_route = person_routes(records, settings.adult_sources, open_only=False).rename(
        {"person_id": "adult_person_id", "routes": "_ar"})
    out = (
        per_pair.with_columns(
            pl.lit(NAME).alias("rule"),
            _evidence().alias("evidence"),
            _summary().alias("summary"),
            pl.min_horizontal("_path_conf", "_child_conf", "_adult_conf").alias("link_confidence"),
        )
        .join(person_refs(records).rename({"person_id": "child_person_id", "refs": "child_records"}),
              on="child_person_id", how="left")
        .join(person_refs(records).rename({"person_id": "adult_person_id", "refs": "adult_records"}),
              on="adult_person_id", how="left")
        .join(child_route, on="child_person_id", how="left")
        .join(adult_route, on="adult_person_id", how="left")
        .with_columns(
            pl.concat_list(pl.col("_cr").fill_null([]), pl.col("_ar").fill_null([])).list.unique().list.sort()
            .alias("routes")
        )
    )
    return finish(out)


def _missing_links(inputs: RuleInputs, config: RulesConfig, child_recs: pl.DataFrame,
                   adult_recs: pl.DataFrame) -> pl.DataFrame:
    """Links between an open child and an adult known to adult services, where the child's related people do not
    name the adult."""
    children = inputs.persons.filter(pl.col("is_child")).join(
        child_recs.select("person_id").unique(), on="person_id", how="semi"
    ).select(pl.col("person_id").alias("child_person_id"))
    adults = inputs.persons.filter(pl.col("is_adult")).join(
        adult_recs.select("person_id").unique(), on="person_id", how="semi"
    ).select(pl.col("person_id").alias("adult_person_id"))
    links = (
        _links(inputs, config)
        .join(children, on="child_person_id", how="semi")
        .join(adults, on="adult_person_id", how="semi")
        .filter(pl.col("adult_person_id") != pl.col("child_person_id"))
    )
    if links.is_empty():
        return links
    candidates = links.select("child_person_id", "adult_person_id").unique()
    return links.join(_present(inputs, config, candidates), on=["child_person_id", "adult_person_id"], how="anti")


def _per_pair(inputs: RuleInputs, settings: Settings, links: pl.DataFrame, child_recs: pl.DataFrame,
              adult_recs: pl.DataFrame) -> pl.DataFrame:
    """Per child and adult: the links, both sides' records and the related-people rows checked."""
    child_side = child_recs.sort("ref").group_by("person_id").agg(
        pl.struct("source", "record_id", "file", "row").alias("child_service_records"),
        pl.col("ref").alias("_child_refs"),
        pl.col("link_confidence").min().alias("_child_conf"),
    ).rename({"person_id": "child_person_id"})
    related_rows = inputs.mentions.filter(
        pl.col("source").is_in(settings.child_sources) & (pl.col("kind") == "related_person")
    ).sort(["source", "file", "row"]).group_by("owner_person_id").agg(
        pl.struct("source", pl.col("owner_record_id").alias("record_id"), "file", "row", "relationship",
                  # a row matched to the adult would have stopped the finding: a matched row is someone else
                  pl.col("mentioned_person_id").is_not_null().alias("matched_to_another_person"))
        .alias("related_people_rows_checked")
    ).rename({"owner_person_id": "child_person_id"})
    adult_side = adult_recs.sort("ref").with_columns(
        pl.col("source").replace_strict(SERVICE_LETTER, default="?").alias("service"),
    ).group_by("person_id").agg(
        pl.struct("service", "source", "record_id", "file", "row", "is_open").alias("adult_service_records"),
        pl.format("adult service {} ref {}", "service", "record_id").alias("_adult_labels"),
        pl.col("link_confidence").min().alias("_adult_conf"),
    ).rename({"person_id": "adult_person_id"})
    return (
        links.sort(["via", "source", "record_id", "row", "other_record_id"])
        .group_by("child_person_id", "adult_person_id")
        .agg(
            pl.struct("via", "source", "record_id", "file", "row",
                      pl.col("other_record_id").alias("child_gp_record_id"), "confidence").alias("links"),
            pl.col("confidence").max().alias("_path_conf"),
            pl.col("via").unique().sort().alias("_vias"),
        )
        .join(child_side, on="child_person_id", how="left")
        .join(adult_side, on="adult_person_id", how="left")
        .join(related_rows, on="child_person_id", how="left")
    )


def _evidence() -> pl.Expr:
    """The finding's evidence JSON."""
    return pl.struct(
        pl.lit(NAME).alias("rule"),
        "child_service_records", "adult_service_records", "links",
        pl.col("related_people_rows_checked").fill_null(pl.lit([], dtype=pl.List(pl.Struct({
            "source": pl.String(), "record_id": pl.String(), "file": pl.String(), "row": pl.Int64(),
            "relationship": pl.String(), "matched_to_another_person": pl.Boolean(),
        })))),
    ).struct.json_encode()


def _summary() -> pl.Expr:
    """The one-line summary (adult services as A and B, record references, no names)."""
    how = pl.col("_vias").list.eval(
        pl.element().replace_strict({"named_child": "named the child", "gp_address": "same GP address"})
    ).list.join(" and ")
    return pl.format(
        "Adult known to {} is linked to the child ({}) but is not on the child's related-people records ({})",
        pl.col("_adult_labels").list.join(", "),
        how,
        pl.col("_child_refs").list.join(", "),
    )



# --- presentation: what the finding rests on, as facts per service (alerts/sharing decides who sees which)

FACTS = frozenset({"child_open", "adult_known", "link", "not_on_related_people"})


def present(evidence: Mapping[str, Any], finding: Mapping[str, Any], labels: Mapping[str, str]) -> FindingFacts:
    """The child's services, the adult's services, how they are linked, and the missing related person.

    Args:
        evidence: the rule's evidence.
        finding: the finding row.
        labels: readable rule names.
    """
    facts: list[Fact] = []
    child_services: dict[str, list[str]] = defaultdict(list)
    for item in evidence.get("child_service_records") or []:
        if isinstance(item, Mapping) and item.get("source"):
            child_services[str(item["source"])] += record_ref(item)
    for service, refs in child_services.items():
        facts.append(Fact("child_open", service, "The child is open to this service.",
                          own_text="The child is open to your service.", records=tuple(refs)))
    for item in evidence.get("adult_service_records") or []:
        if not isinstance(item, Mapping) or not item.get("source"):
            continue
        state = "an open" if item.get("is_open") else "a closed"
        facts.append(Fact("adult_known", str(item["source"]), f"The adult has {state} record with this service.",
                          own_text=f"The adult has {state} record with your service.", records=record_ref(item)))
    for item in evidence.get("links") or []:
        if not isinstance(item, Mapping) or not item.get("source"):
            continue
        if item.get("via") == "gp_address":
            text = "The adult and the child are registered with a GP at the same address."
            own = "The adult and the child are registered with your practice at the same address."
        else:
            text = "The adult named the child as one of their children on this service's record."
            own = "The adult named the child as one of their children on your record."
        facts.append(Fact("link", str(item["source"]), text, own_text=own, records=record_ref(item)))
    checked: dict[str, int] = defaultdict(int)
    for item in evidence.get("related_people_rows_checked") or []:
        if isinstance(item, Mapping) and item.get("source"):
            checked[str(item["source"])] += 1
    for service, refs in child_services.items():
        n = checked.get(service, 0)
        facts.append(Fact(
            "not_on_related_people", service,
            "The adult is not on this service's record of the child's related people.",
            own_text=("The adult is not on your record of the child's related people "
                      f"({plural(n, 'related person', 'related people')} recorded, none of them this adult)."),
            records=tuple(refs)))
    headline = ("An adult known to adult services is linked to this child but is not recorded among the people "
                "around the child on the child's health visiting or school nursing record.")
    return FindingFacts(headline, facts)
