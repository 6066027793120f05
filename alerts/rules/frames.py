"""The inputs every rule reads: canonical landing tables joined to the linkage's person ids.

Everything here is a polars expression over whole frames; nothing loops over rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from alerts.rules.settings import RulesConfig, ServiceTerms
from ground.layout import NightLayout
from ground.sources import SourcesConfig, load_registry

# When a person's records disagree on the date of birth, the most common wins; ties go to the sources' dob_rank
# (sources.yaml), then to the rows naming the person.
MENTION_DOB_PRIORITY = 100
# The route that sends a finding to the designated professionals (besides the leads its other routes reach).
DESIGNATED_ROUTE = "designated"

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "rule": pl.String(),
    "child_person_id": pl.String(),
    "adult_person_id": pl.String(),
    "evidence": pl.String(),
    "link_confidence": pl.Float64(),
    "child_records": pl.List(pl.String()),
    "adult_records": pl.List(pl.String()),
    "routes": pl.List(pl.String()),
    "summary": pl.String(),
}


@dataclass(frozen=True)
class RuleInputs:
    """One night's facts, ready for the rules.

    Attributes:
        extract_date: the night's extract date.
        records: people records with ``person_id``, ``link_confidence`` (null read as 1.0), ``ref``
            (``source:record_id``), ``route`` and ``is_open`` (on the extract date).
        persons: one row per person: ``person_id``, ``dob``, ``is_child``, ``is_adult``.
        appointments: appointment rows whose owner record was accepted, with ``person_id``.
        mentions: mention rows whose owner record was accepted, with ``owner_person_id``,
            ``mentioned_person_id`` and ``mention_confidence``.
        nicknames: ``name`` → ``name_key`` (a folded forename maps to itself and to every alias group it is in).
        sources_present: sources whose files were read tonight.
    """

    extract_date: dt.date
    records: pl.DataFrame
    persons: pl.DataFrame
    appointments: pl.DataFrame
    mentions: pl.DataFrame
    nicknames: pl.DataFrame
    sources_present: tuple[str, ...] = ()


def fold_name(expr: pl.Expr) -> pl.Expr:
    """Lower-case, accent-free, letters-only form of a name (null when nothing is left).

    Args:
        expr: a string expression.
    """
    folded = (
        expr.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase().str.replace_all(r"[^a-z]", "")
    )
    return pl.when(folded.str.len_chars() > 0).then(folded).otherwise(None)


def names_service(expr: pl.Expr, terms: ServiceTerms) -> pl.Expr:
    """Whether a ``;``-separated free-text services field names a service (false when blank).

    Each part is trimmed and lower-cased; it names the service when it contains one of
    ``terms.contains`` or equals one of ``terms.equals``.

    Args:
        expr: the free-text field.
        terms: the service's terms.
    """
    element = pl.element()
    cond = pl.lit(False)
    for term in terms.contains:
        cond = cond | element.str.contains(term.lower(), literal=True)
    if terms.equals:
        cond = cond | element.is_in([t.lower() for t in terms.equals])
    parts = expr.fill_null("").str.split(";").list.eval(element.str.strip_chars().str.to_lowercase())
    return parts.list.eval(cond).list.any().fill_null(False)


def gp_address_key(street: pl.Expr, postcode_raw: pl.Expr) -> pl.Expr:
    """The contract's gp "same address" key: street upper-cased, runs of spaces collapsed, plus postcode
    upper-cased without spaces; null unless both parts are present.

    Args:
        street: ``Number and Street`` as written.
        postcode_raw: ``Postcode`` as written.
    """
    s = street.str.strip_chars().str.to_uppercase().str.replace_all(r"\s+", " ")
    p = postcode_raw.str.to_uppercase().str.replace_all(r"\s+", "")
    return pl.when((s.str.len_chars() > 0) & (p.str.len_chars() > 0)).then(pl.concat_str([s, pl.lit("|"), p]))


def load_nicknames(path: Path) -> pl.DataFrame:
    """Forename alias groups as a ``name`` → ``name_key`` frame.

    Args:
        path: ``config/nicknames.yaml`` (canonical name: list of aliases); absent means no aliases.
    """
    pairs: list[tuple[str, str]] = []
    if path.exists():
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for canonical, aliases in raw.items():
            group = f"~{canonical}"
            pairs.extend((str(name), group) for name in [canonical, *(aliases or [])])
    frame = pl.DataFrame(pairs, schema={"name": pl.String(), "name_key": pl.String()}, orient="row")
    return frame.with_columns(fold_name(pl.col("name")).alias("name")).drop_nulls().unique()


def forename_keys(frame: pl.DataFrame, column: str, nicknames: pl.DataFrame) -> pl.DataFrame:
    """Add ``name_key`` rows for a forename column: the folded name itself plus each alias group it is in.

    Args:
        frame: any frame.
        column: its forename column.
        nicknames: from :func:`load_nicknames`.
    """
    base = frame.with_columns(fold_name(pl.col(column)).alias("_fn")).filter(pl.col("_fn").is_not_null())
    own = base.with_columns(pl.col("_fn").alias("name_key"))
    grouped = base.join(nicknames, left_on="_fn", right_on="name", how="inner")
    return pl.concat([own, grouped], how="vertical_relaxed").drop("_fn").unique()


def surname_keys(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Add ``surname_key`` rows: the whole folded surname and, for hyphenated or two-part surnames, each part.

    Args:
        frame: any frame.
        column: its surname column.
    """
    parts = pl.col(column).str.replace_all(r"[-\s]+", "-").str.split("-")
    whole = frame.with_columns(fold_name(pl.col(column)).alias("surname_key"))
    split = frame.with_columns(parts.alias("surname_key")).explode("surname_key").with_columns(
        fold_name(pl.col("surname_key")).alias("surname_key")
    )
    return pl.concat([whole, split], how="vertical_relaxed").filter(pl.col("surname_key").is_not_null()).unique()


def _read(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"rules input missing: {path.name} under {path.parent.name}/")
    return pl.read_parquet(path)


def _sources_present(night_dir: Path, registry: SourcesConfig) -> tuple[str, ...]:
    files = NightLayout(night_dir).files
    if not files.exists():
        return registry.codes
    ok = pl.read_parquet(files).filter(pl.col("status") == "ok").get_column("source").unique().to_list()
    return tuple(s for s in registry.codes if s in ok)


def route_key(registry: SourcesConfig) -> pl.Expr:
    """Each record's routing key, ``<source>:<kind>:<team or practice>`` (sources.yaml ``route``).

    Args:
        registry: the source registry.
    """
    route = pl.lit(None, dtype=pl.String)
    for code, spec in registry.sources.items():
        prefix = f"{code}:{spec.route.kind}:"
        route = pl.when(pl.col("source") == code).then(pl.lit(prefix) + pl.col(spec.route.field)).otherwise(route)
    return route


def build_inputs(
    people: pl.DataFrame,
    appointments: pl.DataFrame,
    linkage_records: pl.DataFrame,
    linkage_mentions: pl.DataFrame,
    extract_date: dt.date,
    config: RulesConfig,
    nicknames: pl.DataFrame,
    registry: SourcesConfig,
    sources_present: tuple[str, ...] | None = None,
) -> RuleInputs:
    """Join the canonical tables to the linkage's person ids and derive the per-person facts.

    Args:
        people: ``landing/people.parquet``.
        appointments: ``landing/appointments.parquet``.
        linkage_records: ``linkage/records.parquet`` (source, record_id, person_id, link_confidence).
        linkage_mentions: ``linkage/mentions.parquet``.
        extract_date: the night's extract date.
        config: the rules configuration.
        nicknames: from :func:`load_nicknames`.
        registry: the source registry (routing, who each source serves, date-of-birth ranks).
        sources_present: sources whose files were read tonight (all when None).
    """
    links = linkage_records.select(
        pl.col("source").cast(pl.String),
        pl.col("record_id").cast(pl.String),
        pl.col("person_id").cast(pl.String),
        pl.col("link_confidence").cast(pl.Float64),
    ).unique(subset=["source", "record_id"], keep="first")
    records = (
        people.join(links, on=["source", "record_id"], how="left")
        .with_columns(
            pl.coalesce("person_id", pl.concat_str([pl.lit("unlinked:"), "source", pl.lit(":"), "record_id"]))
            .alias("person_id"),
            pl.col("link_confidence").fill_null(1.0),
            (pl.col("source") + ":" + pl.col("record_id")).alias("ref"),
            (pl.col("is_open").fill_null(False) | (pl.col("end_date") > pl.lit(extract_date))).alias("is_open"),
            route_key(registry).alias("route"),
        )
    )
    persons = _persons(records, linkage_mentions, extract_date, config, registry)
    record_person = records.select("source", "record_id", "person_id", "link_confidence", "ref")
    appts = appointments.filter(pl.col("owner_known").fill_null(False)).join(
        record_person, on=["source", "record_id"], how="inner"
    )
    mentions = linkage_mentions.filter(pl.col("owner_known").fill_null(False)).with_columns(
        pl.col("owner_person_id").cast(pl.String),
        pl.col("mentioned_person_id").cast(pl.String),
        pl.col("mention_confidence").cast(pl.Float64).fill_null(0.0),
    )
    return RuleInputs(
        extract_date=extract_date,
        records=records,
        persons=persons,
        appointments=appts,
        mentions=mentions,
        nicknames=nicknames,
        sources_present=registry.codes if sources_present is None else sources_present,
    )


def _persons(records: pl.DataFrame, linkage_mentions: pl.DataFrame, extract_date: dt.date, config: RulesConfig,
             registry: SourcesConfig) -> pl.DataFrame:
    """One row per person: ``person_id``, ``dob`` (by vote), ``is_child``, ``is_adult`` on the extract date."""
    eighteen_ago = pl.lit(extract_date).dt.offset_by(f"-{config.child_under_age}y")
    # a person's date of birth: the one most of its records give — and the records naming it (a parent's
    # TP_Children row, a related-people row) vote too — then by source (a mistyped gp date loses to the
    # school nurse's and the parent's)
    mention_dobs = linkage_mentions.filter(
        pl.col("mentioned_person_id").is_not_null() & pl.col("dob").is_not_null()
        & (pl.col("mention_confidence").fill_null(0.0) >= config.link_threshold)
    ).select(pl.col("mentioned_person_id").cast(pl.String).alias("person_id"), pl.col("dob").cast(pl.Date),
             pl.lit(MENTION_DOB_PRIORITY, dtype=pl.Int64).alias("_p"))
    dob_votes = (
        pl.concat([
            records.filter(pl.col("dob").is_not_null()).select(
                "person_id", pl.col("dob").cast(pl.Date),
                pl.col("source").replace_strict({c: s.dob_rank for c, s in registry.sources.items()}, default=99,
                                               return_dtype=pl.Int64).alias("_p")),
            mention_dobs,
        ])
        .group_by("person_id", "dob")
        .agg(pl.len().alias("_n"), pl.col("_p").min())
        .sort(["person_id", "_n", "_p", "dob"], descending=[False, True, False, False])
        .unique(subset="person_id", keep="first")
        .select("person_id", "dob")
    )
    services = records.group_by("person_id").agg(
        pl.col("source").is_in(registry.serving("children")).any().alias("_child_service"),
        pl.col("source").is_in(registry.serving("adults")).any().alias("_adult_service"),
    )
    persons = (
        services.join(dob_votes, on="person_id", how="left")
        .with_columns(
            pl.when(pl.col("dob").is_not_null())
            .then((pl.col("dob") > eighteen_ago) & (pl.col("dob") <= pl.lit(extract_date)))
            .otherwise(pl.col("_child_service") & ~pl.col("_adult_service"))
            .alias("is_child"),
            pl.when(pl.col("dob").is_not_null())
            .then(pl.col("dob") <= eighteen_ago)
            .otherwise(pl.col("_adult_service"))
            .alias("is_adult"),
        )
        .select("person_id", "dob", "is_child", "is_adult")
        .sort("person_id")
    )
    return persons


def load_inputs(night_dir: Path, config_dir: Path, extract_date: dt.date, config: RulesConfig) -> RuleInputs:
    """Read the night's landing and linkage parquet files.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
        config_dir: the configuration folder (for ``nicknames.yaml``).
        extract_date: the night's extract date.
        config: the rules configuration.
    """
    night = NightLayout(night_dir)
    registry = load_registry(config_dir)
    return build_inputs(
        people=_read(night.people),
        appointments=_read(night.appointments),
        linkage_records=_read(night.linked_records),
        linkage_mentions=_read(night.resolved_mentions),
        extract_date=extract_date,
        config=config,
        nicknames=load_nicknames(config_dir / "nicknames.yaml"),
        registry=registry,
        sources_present=_sources_present(night_dir, registry),
    )


def person_refs(records: pl.DataFrame, sources: Sequence[str] | None = None) -> pl.DataFrame:
    """``person_id`` → sorted ``refs`` (``source:record_id``) of the person's records.

    Args:
        records: :attr:`RuleInputs.records`.
        sources: keep only these sources (all when None).
    """
    frame = records if sources is None else records.filter(pl.col("source").is_in(list(sources)))
    # one sort of the distinct pairs, not a sort inside each of hundreds of thousands of groups
    return (frame.select("person_id", "ref").unique().sort("person_id", "ref")
            .group_by("person_id", maintain_order=True).agg(pl.col("ref").alias("refs")))


def person_routes(records: pl.DataFrame, sources: Sequence[str], open_only: bool = True) -> pl.DataFrame:
    """``person_id`` → sorted unique routing keys of the person's records in ``sources``.

    Args:
        records: :attr:`RuleInputs.records`.
        sources: the services to route to.
        open_only: only records open on the extract date.
    """
    frame = records.filter(pl.col("source").is_in(list(sources)) & pl.col("route").is_not_null())
    if open_only:
        frame = frame.filter(pl.col("is_open"))
    return frame.group_by("person_id").agg(pl.col("route").unique().sort().alias("routes"))


def empty_findings() -> pl.DataFrame:
    """An empty frame with the rule output schema."""
    return pl.DataFrame(schema=FINDING_SCHEMA)


def finish(frame: pl.DataFrame) -> pl.DataFrame:
    """Select and order the rule output columns (filling empty lists).

    Args:
        frame: a rule's result with at least the :data:`FINDING_SCHEMA` columns.
    """
    out = frame.select(
        [pl.col(name).cast(dtype) for name, dtype in FINDING_SCHEMA.items()]
    ).with_columns(
        [
            pl.col(c).fill_null(pl.lit([], dtype=pl.List(pl.String())))
            for c in ("child_records", "adult_records", "routes")
        ]
    )
    return out.sort(["rule", "child_person_id", "adult_person_id"], nulls_last=True)
