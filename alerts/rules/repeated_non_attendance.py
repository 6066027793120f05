"""``repeated_non_attendance``: a child who keeps missing appointments across services.

Default (docs/data-contract.md): at least 3 missed appointments in the 365 days up to the extract
date, across all sources together, in at least 2 sources; for a child on a child protection plan or
looked after (in any source), 2 missed in any sources. Cancellations never count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import polars as pl
from pydantic import Field

from alerts.rules.frames import RuleInputs, empty_findings, finish, person_refs, person_routes
from alerts.rules.presentation import Fact, FindingFacts, long_date, parse_date, period, plural, record_ref
from alerts.rules.settings import RuleBase, RulesConfig

NAME = "repeated_non_attendance"
LABEL = "Repeated missed appointments (was not brought)"
ID_KEYS = ("child_person_id",)


def _default_missed() -> dict[str, list[str]]:
    return {
        "hv": ["Was Not Brought", "No Access Visit"],
        "sn": ["WNB", "DNA"],
        "camhs": ["3", "7"],
        "gp": ["Did Not Attend"],
        "dental": ["FTA"],
    }


def _flag_sources() -> list[str]:
    return ["hv", "sn"]


class Settings(RuleBase):
    """``repeated_non_attendance``: missed appointments of a child across sources."""

    window_days: int = Field(default=365, ge=1, description="the extract date and the window_days - 1 days before it")
    min_missed: int = Field(default=3, ge=1)
    min_sources: int = Field(default=2, ge=1)
    flagged_min_missed: int = Field(default=2, ge=1, description="threshold for a child on a CP plan or looked after")
    flagged_min_sources: int = Field(default=1, ge=1)
    missed_outcomes: dict[str, list[str]] = Field(default_factory=_default_missed)
    flag_sources: list[str] = Field(default_factory=_flag_sources)

    def sources_named(self) -> dict[str, list[str]]:
        """The source codes these settings name, by key (checked against sources.yaml on load)."""
        return {"missed_outcomes": list(self.missed_outcomes), "flag_sources": list(self.flag_sources)}

    def route_sources(self) -> list[str]:
        """The services a finding goes to: every source whose missed appointments count, and the flag sources."""
        return sorted({*self.missed_outcomes, *self.flag_sources})


def missed_codes(settings: Settings) -> pl.DataFrame:
    """``source``, ``code`` (trimmed, lower-cased raw outcome) of every outcome that counts as missed.

    Args:
        settings: the rule's settings.
    """
    rows = [(source, code.strip().lower()) for source, codes in settings.missed_outcomes.items() for code in codes]
    return pl.DataFrame(rows, schema={"source": pl.String(), "code": pl.String()}, orient="row")


def detect(inputs: RuleInputs, config: RulesConfig, earlier: pl.DataFrame) -> pl.DataFrame:
    """Apply the rule.

    Args:
        inputs: the night's facts.
        config: the rules configuration.
        earlier: the findings of the rules before this one (unused).
    """
    settings = config.settings(NAME, Settings)
    missed = _missed(inputs, settings)
    if missed.is_empty():
        return empty_findings()
    hits = _hits(_per_child(missed, _flags(inputs.records, settings)), settings)
    if hits.is_empty():
        return empty_findings()
    out = (
        hits.with_columns(
            pl.lit(NAME).alias("rule"),
            pl.col("person_id").alias("child_person_id"),
            pl.lit(None, dtype=pl.String).alias("adult_person_id"),
            _evidence().alias("evidence"),
            _summary(settings).alias("summary"),
            pl.lit(None, dtype=pl.List(pl.String)).alias("adult_records"),
        )
        .join(person_refs(inputs.records).rename({"refs": "child_records"}), on="person_id", how="left")
        .join(person_routes(inputs.records, settings.route_sources()), on="person_id", how="left")
    )
    return finish(out)


def _missed(inputs: RuleInputs, settings: Settings) -> pl.DataFrame:
    """Children's appointments tonight's window counts as missed."""
    day = inputs.extract_date
    first_day = day - dt.timedelta(days=settings.window_days - 1)
    children = inputs.persons.filter(pl.col("is_child")).select("person_id")
    return (
        inputs.appointments.with_columns(pl.col("outcome_raw").str.strip_chars().str.to_lowercase().alias("code"))
        .join(missed_codes(settings), on=["source", "code"], how="semi")
        .filter(pl.col("appt_date").is_between(pl.lit(first_day), pl.lit(day), closed="both"))
        .join(children, on="person_id", how="semi")
        .sort(["person_id", "appt_date", "source", "record_id", "row"])
    )


def _flags(records: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Per person: the records flagging a child protection plan or looked-after status."""
    return (
        records.filter(
            pl.col("source").is_in(settings.flag_sources)
            & (pl.col("cp_plan").fill_null(False) | pl.col("looked_after").fill_null(False))
        )
        .sort("ref")
        .group_by("person_id")
        .agg(
            pl.struct(
                "source", "record_id", "file", "row",
                pl.col("cp_plan").fill_null(False).alias("child_protection_plan"),
                pl.col("looked_after").fill_null(False),
            ).alias("flagged_records"),
            pl.col("link_confidence").min().alias("_flag_conf"),
        )
    )


def _per_child(missed: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    """Per child: counts, sources, dates and the missed appointments, with any flags."""
    return (
        missed.group_by("person_id")
        .agg(
            pl.len().alias("n_missed"),
            pl.col("source").n_unique().alias("n_sources"),
            pl.col("source").unique().sort().alias("sources"),
            pl.col("appt_date").min().alias("first_missed"),
            pl.col("appt_date").max().alias("last_missed"),
            pl.col("ref").n_unique().alias("_n_refs"),
            pl.col("link_confidence").min().alias("_conf"),
            pl.struct(
                "source", "record_id", "file", "row",
                pl.col("appt_date").cast(pl.String).alias("date"),
                pl.col("appt_time").alias("time"),
                pl.col("appt_type").alias("type"),
                pl.col("outcome_raw").alias("outcome"),
            ).alias("missed_appointments"),
        )
        .join(flags, on="person_id", how="left")
        .with_columns(pl.col("flagged_records").is_not_null().alias("flagged"))
    )


def _hits(per_child: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The children the rule fires for, with ``_normal`` (the usual threshold met) and the link confidence."""
    normal = (pl.col("n_missed") >= settings.min_missed) & (pl.col("n_sources") >= settings.min_sources)
    lowered = (
        pl.col("flagged")
        & (pl.col("n_missed") >= settings.flagged_min_missed)
        & (pl.col("n_sources") >= settings.flagged_min_sources)
    )
    return per_child.with_columns(normal.alias("_normal")).filter(pl.col("_normal") | lowered).with_columns(
        # one record: no cross-source join relied on; several: the weakest link among them (and the flag record's)
        pl.when(pl.col("_n_refs") > 1)
        .then(pl.col("_conf"))
        .otherwise(pl.lit(1.0))
        .alias("link_confidence"),
    ).with_columns(
        pl.when(~pl.col("_normal"))
        .then(pl.min_horizontal("link_confidence", pl.col("_flag_conf").fill_null(1.0)))
        .otherwise(pl.col("link_confidence"))
        .alias("link_confidence"),
    )


def _evidence() -> pl.Expr:
    """The finding's evidence JSON: counts, sources, the missed appointments and any flag records."""
    return pl.struct(
        pl.lit(NAME).alias("rule"),
        "n_missed", "n_sources", "sources",
        (~pl.col("_normal")).alias("lower_threshold_applied"),
        "missed_appointments",
        pl.col("flagged_records").fill_null(pl.lit([], dtype=pl.List(pl.Struct({
            "source": pl.String(), "record_id": pl.String(), "file": pl.String(), "row": pl.Int64(),
            "child_protection_plan": pl.Boolean(), "looked_after": pl.Boolean(),
        })))),
    ).struct.json_encode()


def _summary(settings: Settings) -> pl.Expr:
    """The one-line summary: counts, window, services and dates (no names)."""
    return pl.format(
        "{} missed appointments in the last {} days across {} service{} ({}) between {} and {}{}",
        "n_missed",
        pl.lit(settings.window_days),
        "n_sources",
        pl.when(pl.col("n_sources") == 1).then(pl.lit("")).otherwise(pl.lit("s")),
        pl.col("sources").list.join(", "),
        pl.col("first_missed").cast(pl.String),
        pl.col("last_missed").cast(pl.String),
        pl.when(~pl.col("_normal"))
        .then(pl.lit("; lower threshold applies (child protection plan or looked after)"))
        .otherwise(pl.lit("")),
    )


# --- presentation: what the finding rests on, as facts per service (alerts/sharing decides who sees which)

FACTS = frozenset({"missed_count", "missed_dates", "protection_flag"})


def present(evidence: Mapping[str, Any], finding: Mapping[str, Any], labels: Mapping[str, str]) -> FindingFacts:
    """Missed appointments per service (count and months to others; dates to the service itself).

    Args:
        evidence: the rule's evidence.
        finding: the finding row.
        labels: readable rule names.
    """
    by_service: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in evidence.get("missed_appointments") or []:
        if isinstance(item, Mapping) and parse_date(item.get("date")) and item.get("source"):
            by_service[str(item["source"])].append(item)
    facts: list[Fact] = []
    all_days: list[dt.date] = []
    for service, items in by_service.items():
        days = sorted(d for d in (parse_date(i.get("date")) for i in items) if d)
        all_days += days
        refs = tuple(sorted({r for i in items for r in record_ref(i)}))
        count = f"{plural(len(days), 'missed appointment')} {period(days)}"
        facts.append(Fact("missed_count", service, f"{count}.", records=refs))
        listed = "; ".join(
            long_date(d) + (f" ({i['type']})" if isinstance(i.get("type"), str) and i["type"] else "")
            for d, i in sorted(((parse_date(i.get("date")), i) for i in items), key=lambda p: p[0] or dt.date.min)
            if d
        )
        facts.append(Fact("missed_dates", service, "", own_text=f"Missed on: {listed}.", records=refs))
    if evidence.get("lower_threshold_applied"):
        for item in evidence.get("flagged_records") or []:
            if not isinstance(item, Mapping) or not item.get("source"):
                continue
            status = [label for key, label in (("child_protection_plan", "on a child protection plan"),
                                               ("looked_after", "looked after")) if item.get(key)]
            if status:
                text = (f"Records that the child is {' and '.join(status)}, so the lower threshold for such "
                        "children applies (fewer missed appointments are enough).")
                facts.append(Fact("protection_flag", str(item["source"]), text, records=record_ref(item)))
    n_missed = int(evidence.get("n_missed") or len(all_days))
    n_sources = int(evidence.get("n_sources") or len(by_service))
    when = f" {period(all_days)}" if all_days else ""
    headline = (f"The child was not brought to (or did not attend) {plural(n_missed, 'appointment')} "
                f"at {plural(n_sources, 'service')}{when}.")
    return FindingFacts(headline, facts)
