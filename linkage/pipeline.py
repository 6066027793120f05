"""The linkage stage: ``link_night`` (block, score the shards, cluster), ``cluster_night`` and ``train_model``."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from ground import outputs
from ground.layout import NightLayout
from ground.safe_csv import write_safe_csv
from linkage.blocking import pass_coverage
from linkage.cluster import cluster_links, pair_guards
from linkage.compare import COMPARISONS, LEVELS, MISSING
from linkage.config import LinkageConfig
from linkage.drift import add_level_counts, level_counts, night_profile, profile_of_counts
from linkage.evidence import GuardEvidence, guard_evidence
from linkage.ids import persist_ids
from linkage.mentions import resolve_mentions
from linkage.model import FSModel, score
from linkage.models import save_versioned
from linkage.night_model import fit_to_night, model_check, write_model_check
from linkage.prepare import load_config, nicknames_path, standardise_block_compare
from linkage.reuse import write_cache
from linkage.review_decisions import review_overrides
from linkage.shards import ShardPlan, block_night, check_scored, remove_work, score_shards
from linkage.standardise import nickname_pairs, standardise_people

log = logging.getLogger(__name__)

MENTION_SCHEMA = {
    "source": pl.Utf8, "owner_record_id": pl.Utf8, "file": pl.Utf8, "row": pl.Int64, "kind": pl.Utf8,
    "forename": pl.Utf8, "surname": pl.Utf8, "dob": pl.Date, "nhs_number": pl.Utf8, "relationship": pl.Utf8,
    "lives_with": pl.Boolean, "parental_responsibility": pl.Boolean, "owner_known": pl.Boolean,
}


@dataclass
class LinkResult:
    """Counts from one night's linkage (never person data)."""

    records: int = 0
    persons: int = 0
    pairs_scored: int = 0
    links: int = 0
    review_pairs: int = 0
    guard_interventions: dict[str, int] = field(default_factory=dict)
    merges: int = 0
    splits: int = 0
    new_persons: int = 0
    mentions: int = 0
    mentions_resolved: int = 0
    model_version: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    pairs_by_pass: dict[str, int] = field(default_factory=dict)
    blocking_by_pass: dict[str, dict[str, int]] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    pass_coverage: dict[str, dict[str, float | int]] = field(default_factory=dict)
    shards: int = 1
    pairs_reused: int = 0
    pairs_compared: int = 0


def _thresholds(model: FSModel, config: LinkageConfig) -> tuple[float, float]:
    link, review = config.thresholds.link, config.thresholds.review
    return (
        float(link) if link is not None else model.link_threshold,
        float(review) if review is not None else model.review_threshold,
    )


FORCED_WEIGHT = 1e9


def level_labels(levels: pl.DataFrame) -> list[pl.Expr]:
    """``level_<comparison>``: each comparison's agreement level by name (``missing`` when a side is blank),
    written beside the weights so that a link can be explained without the model.

    Args:
        levels: pairs with one integer level column per comparison.
    """
    return [
        pl.col(c).replace_strict({MISSING: "missing", **dict(enumerate(LEVELS[c]))}, default=None,
                                 return_dtype=pl.String).alias(f"level_{c}")
        for c in COMPARISONS if c in levels.columns
    ]


def _override_pairs(std: pl.DataFrame, overrides: pl.DataFrame | None, kind: str) -> pl.DataFrame:
    """Reviewers' ``force_link`` / ``force_split`` pairs as ``uid_l < uid_r``."""
    empty = pl.DataFrame(schema={"uid_l": pl.Int64, "uid_r": pl.Int64})
    if overrides is None or overrides.height == 0:
        return empty
    ids = std.select("uid", "source", pl.col("record_id").cast(pl.Utf8))
    o = overrides.filter(pl.col("decision") == kind)
    o = o.join(ids.rename({"uid": "_a", "source": "source_l", "record_id": "record_id_l"}),
               on=["source_l", "record_id_l"])
    o = o.join(ids.rename({"uid": "_b", "source": "source_r", "record_id": "record_id_r"}),
               on=["source_r", "record_id_r"])
    return o.select(
        pl.min_horizontal("_a", "_b").alias("uid_l"), pl.max_horizontal("_a", "_b").alias("uid_r")
    ).unique()


#: Forename levels under which a link itself shows the two records name the same person (a slip included).
FORENAME_AGREES = ("jaro_winkler_92", "one_edit", "exact", "nickname_or_alt", "swapped")
#: Pair guards that show two different people: such a pair is ``guarded``, not put to review.
CERTAIN_GUARDS = ("twins", "namesake", "nhs_conflict")


def _apply_pair_guards(std: pl.DataFrame, scored: pl.DataFrame, config: LinkageConfig, forced_link: pl.DataFrame,
                       forced_split: pl.DataFrame, evidence: GuardEvidence | None) -> pl.DataFrame:
    """Scored pairs with ``pair_guard`` (enabled guards, within-source pairs, reviewers' splits) and ``_forced``,
    pair by pair: a part of the night's pairs is guarded as it would be among all of them."""
    g = pair_guards(scored, std, config.guards.namesake_min_years, evidence)
    enabled: set[str] = set(config.guards.pair_guards)
    if "namesake" in enabled:
        enabled.add("namesake_doubt")
    if "twins" in enabled:
        enabled.add("twins_doubt")
    g = g.with_columns(
        pl.when(pl.col("pair_guard").is_in(sorted(enabled))).then(pl.col("pair_guard")).otherwise(None)
    )
    if "same_source" in g.columns:
        # a likely duplicate inside one system goes to clerical review unless the source may hold duplicates
        g = g.join(std.select(pl.col("uid").alias("uid_l"), pl.col("source").alias("_src")), on="uid_l", how="left")
        within = pl.col("same_source").fill_null(False) & ~pl.col("_src").is_in(list(config.dedupe_within_sources))
        g = g.with_columns(pl.when(within & pl.col("pair_guard").is_null()).then(pl.lit("same_source"))
                           .otherwise(pl.col("pair_guard")).alias("pair_guard")).drop("_src")
    g = g.join(forced_link, on=["uid_l", "uid_r"], how="left").with_columns(pl.col("_forced").fill_null(False))
    g = g.join(forced_split.with_columns(pl.lit(True).alias("_split")), on=["uid_l", "uid_r"], how="left").with_columns(
        pl.when(pl.col("_forced")).then(None)
        .when(pl.col("_split").fill_null(False)).then(pl.lit("review_split"))
        .otherwise(pl.col("pair_guard")).alias("pair_guard")
    ).drop("_split")
    return g


def _links_to_cluster(g: pl.DataFrame, forced_link: pl.DataFrame, link_t: float) -> pl.DataFrame:
    """Pairs above the link threshold without a pair guard, with forced links, weighted for clustering."""
    above = g.filter((pl.col("match_probability") >= link_t) | pl.col("_forced"))
    wcols = [c for c in g.columns if c.startswith("w_") and c != "w_nhs"]
    links = above.filter(pl.col("pair_guard").is_null()).with_columns(
        pl.when(pl.col("_forced")).then(FORCED_WEIGHT).otherwise(pl.sum_horizontal(wcols)).alias("evidence"),
        pl.when(pl.col("_forced")).then(FORCED_WEIGHT).otherwise(pl.col("weight")).alias("weight"),
        pl.col("forename").is_in([LEVELS["forename"].index(v) for v in FORENAME_AGREES]).fill_null(False)
        .alias("forename_agrees"),
    )
    unseen = forced_link.join(g.select("uid_l", "uid_r"), on=["uid_l", "uid_r"], how="anti")
    if unseen.height:  # forced links the blocking did not propose tonight
        links = pl.concat([links, unseen.with_columns(
            pl.lit(None, dtype=pl.UInt32).alias("_pid"), pl.lit(FORCED_WEIGHT).alias("weight"),
            pl.lit(FORCED_WEIGHT).alias("evidence"))], how="diagonal_relaxed")
    return links


def cluster_scored(
    std: pl.DataFrame,
    scored: pl.DataFrame,
    model: FSModel,
    config: LinkageConfig,
    overrides: pl.DataFrame | None = None,
    evidence: GuardEvidence | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str]]:
    """Apply guards and thresholds and cluster.

    Args:
        std: standardised records.
        scored: scored pairs (levels, ``w_*``, ``weight``, ``match_probability``; ``same_source`` if known).
        model: the model (thresholds).
        config: the linkage configuration.
        overrides: clerical review decisions (``source_l``, ``record_id_l``, ``source_r``,
            ``record_id_r``, ``decision`` = ``force_link`` | ``force_split``): a forced link is
            accepted whatever its score or pair guard (cluster guards still apply); a forced split
            never joins the two records.
        evidence: keys with evidence of twins or namesakes (:func:`linkage.evidence.guard_evidence`).

    Returns:
        ``(records, pairs, guard_counts)``: records with ``cluster``, ``cluster_size``,
        ``link_confidence``; the kept pairs with ``decision`` (``link``, ``review``, or ``guarded`` where a
        pair guard shows two people) and ``guard``.
    """
    forced_link, forced_split = _forced_pairs(std, overrides)
    g = _apply_pair_guards(std, scored, config, forced_link, forced_split, evidence)
    return _cluster_guarded(std, g, _cannot_links(g), model, config, forced_link, forced_split)


def _cannot_links(g: pl.DataFrame) -> pl.DataFrame:
    """The guarded pairs clustering must keep apart (``uid_l``, ``uid_r``, ``pair_guard``), in ``g``'s order.

    Within-source pairs are left out: clustering refuses to join two clusters holding one source before it
    reads its cannot-links, and a night holds millions of such pairs.
    """
    return g.filter(pl.col("pair_guard").is_not_null() & (pl.col("pair_guard") != "same_source")).select(
        "uid_l", "uid_r", "pair_guard")


def _forced_pairs(std: pl.DataFrame, overrides: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reviewers' forced links (with ``_forced``) and forced splits as ``uid_l < uid_r``."""
    forced_link = _override_pairs(std, overrides, "force_link").with_columns(pl.lit(True).alias("_forced"))
    return forced_link, _override_pairs(std, overrides, "force_split")


def _cluster_guarded(std: pl.DataFrame, g: pl.DataFrame, cannot: pl.DataFrame, model: FSModel,
                     config: LinkageConfig, forced_link: pl.DataFrame,
                     forced_split: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str]]:
    """:func:`cluster_scored` after the pair guards.

    ``g`` holds at least every pair at or above the lower threshold and every forced pair; ``cannot`` is
    :func:`_cannot_links` of all the pairs, above the thresholds or not.
    """
    link_t, review_t = _thresholds(model, config)
    g = g.with_row_index("_pid")
    cannot = pl.concat([
        cannot,
        forced_split.with_columns(pl.lit("review_split").alias("pair_guard")),
    ]).unique(subset=["uid_l", "uid_r"], keep="first", maintain_order=True)
    links = _links_to_cluster(g, forced_link, link_t)
    res = cluster_links(std.height, links, cannot, std, frozenset(config.dedupe_within_sources),
                        config.guards.nhs_override_evidence)
    counts: Counter[str] = Counter()
    above = g.filter((pl.col("match_probability") >= link_t) | pl.col("_forced"))
    counts.update(above.filter(pl.col("pair_guard").is_not_null())["pair_guard"].to_list())
    counts.update(res.guard_counts)
    counts.update({"review_link": int(forced_link.height), "review_split": int(forced_split.height)})
    counts = Counter({k: v for k, v in counts.items() if v})
    outcome = links.select("_pid").with_columns(
        pl.Series("_accepted", res.accepted), pl.Series("_cut", res.cut_reason, dtype=pl.Utf8)
    ).filter(pl.col("_pid").is_not_null())
    kept = g.filter((pl.col("match_probability") >= review_t) | pl.col("_forced"))
    kept = kept.join(outcome, on="_pid", how="left", maintain_order="left").drop("_forced")
    kept = kept.with_columns(
        pl.when(pl.col("_accepted").fill_null(False)).then(pl.lit("link"))
        .when(pl.col("pair_guard").is_in(list(CERTAIN_GUARDS))).then(pl.lit("guarded"))
        .otherwise(pl.lit("review")).alias("decision"),
        pl.coalesce("pair_guard", "_cut").alias("guard"),
    ).drop("_accepted", "_cut", "pair_guard", "_pid")
    return _records_with_clusters(std, res.labels, kept), kept, counts


def _records_with_clusters(std: pl.DataFrame, labels: Any, kept: pl.DataFrame) -> pl.DataFrame:
    records = std.select("uid", "source", "record_id").with_columns(pl.Series("cluster", labels, dtype=pl.Int64))
    records = records.with_columns(pl.len().over("cluster").cast(pl.Int64).alias("cluster_size"))
    acc = kept.filter(pl.col("decision") == "link").select("uid_l", "uid_r", "match_probability")
    best = (
        pl.concat([acc.select(pl.col("uid_l").alias("uid"), "match_probability"),
                   acc.select(pl.col("uid_r").alias("uid"), "match_probability")])
        .group_by("uid")
        .agg(pl.col("match_probability").max().alias("link_confidence"))
    )
    return records.join(best, on="uid", how="left", maintain_order="left").with_columns(
        pl.col("link_confidence").fill_null(1.0)
    )


def _review_overrides(state_url: str) -> pl.DataFrame | None:
    """The clerical reviewers' standing decisions (``linkage.review_decisions``)."""
    return review_overrides(state_url)


def _mentions_standardised(mentions: pl.DataFrame, people: pl.DataFrame, config_dir: Path) -> pl.DataFrame:
    """Mentions with folded names and DOB keys and the record each sits on (for guard evidence)."""
    if mentions.height == 0:
        return pl.DataFrame()
    owners = people.select(pl.col("source"), pl.col("record_id").cast(pl.Utf8).alias("owner_record_id"),
                           pl.col("surname").alias("_owner_surname"))
    frame = mentions.select("source", pl.col("owner_record_id").cast(pl.Utf8), "forename", "surname", "dob").join(
        owners, on=["source", "owner_record_id"], how="left"
    ).with_columns(pl.coalesce("surname", "_owner_surname").alias("surname"))
    std = standardise_people(frame.with_row_index("record_id").with_columns(pl.col("record_id").cast(pl.Utf8)),
                             nicknames_path(config_dir))
    return std.with_columns(pl.Series("owner_source", frame["source"]),
                            pl.Series("owner_record_id", frame["owner_record_id"]))


def _read_night(night_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    people = pl.read_parquet(night_dir / "landing" / "people.parquet").with_columns(pl.col("record_id").cast(pl.Utf8))
    mpath = night_dir / "landing" / "mentions.parquet"
    mentions = pl.read_parquet(mpath) if mpath.exists() else pl.DataFrame(schema=MENTION_SCHEMA)
    return people, mentions


def _write_outputs(night_dir: Path, records: pl.DataFrame, kept: pl.DataFrame) -> pl.DataFrame:
    out_dir = night_dir / "linkage"
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs.write_parquet(records.select("source", "record_id", "person_id", "cluster_size", "link_confidence"),
                          out_dir / "records.parquet")
    ids = records.select("uid", "source", "record_id")
    wcols = [f"w_{c}" for c in COMPARISONS if f"w_{c}" in kept.columns]
    pairs_out = (
        kept.join(ids.rename({"uid": "uid_l", "source": "source_l", "record_id": "record_id_l"}), on="uid_l")
        .join(ids.rename({"uid": "uid_r", "source": "source_r", "record_id": "record_id_r"}), on="uid_r")
        .select("source_l", "record_id_l", "source_r", "record_id_r", "weight", "match_probability",
                "decision", *wcols, *level_labels(kept), "guard")
        .sort("source_l", "record_id_l", "source_r", "record_id_r")
    )
    outputs.write_parquet(pairs_out, out_dir / "pairs.parquet")
    write_safe_csv(records.select("source", "record_id", "person_id").sort("source", "record_id"),
                   night_dir / "person_links.csv")
    return pairs_out


def _resolve(night: NightInputs, std: pl.DataFrame, records: pl.DataFrame, model: FSModel,
             config: LinkageConfig, config_dir: Path, extract_date: date) -> pl.DataFrame:
    nick = nicknames_path(config_dir)
    m = config.mentions
    return resolve_mentions(
        night.mentions, night.people, std, records.select("uid", "person_id"), model, nick,
        nickname_pairs(str(nick)), m.min_confidence, m.prior_in_data, m.min_margin, extract_date=extract_date,
        newborn_days=m.newborn_days, newborn_prior_in_data=m.newborn_prior_in_data,
    )


@dataclass
class NightInputs:
    """Tonight's people and mentions tables."""

    people: pl.DataFrame
    mentions: pl.DataFrame


def link_night(night_dir: Path, model_path: Path, state_url: str, extract_date: date, config_dir: Path,
               models_dir: Path | None = None, processes: int | None = None,
               cache_dir: Path | None = None) -> LinkResult:
    """Link one night's people records into persons and resolve mentions: :func:`linkage.shards.block_night`,
    every shard through :func:`linkage.shards.score_shard`, then :func:`cluster_night`.

    Reads ``landing/people.parquet`` and ``landing/mentions.parquet`` under ``night_dir``; writes
    ``linkage/records.parquet``, ``linkage/pairs.parquet``, ``linkage/mentions.parquet``,
    ``linkage/model_check.json`` and ``person_links.csv``; stores stable person ids in the state database.

    Args:
        night_dir: the night's output folder (``<output>/<YYYY-MM-DD>``).
        model_path: the starting model JSON (``config/linkage_model.json``).
        state_url: SQLAlchemy URL of the state database.
        extract_date: the extract date.
        config_dir: the configuration folder (``linkage.yaml``, ``nicknames.yaml``).
        models_dir: the deployment's model store (``<output>/models``): its active model scores the night;
            without one, the night fits one to its own records first (see :mod:`linkage.calibrate`). None:
            score with ``model_path`` as it is.
        processes: local processes to score the shards in (None: ``sharding.processes`` in ``linkage.yaml``);
            the outputs are the same whatever the number.
        cache_dir: the deployment's comparison cache (``<output>/linkage_cache``, :mod:`linkage.reuse`): pairs of
            records unchanged since the night before keep their comparison levels. None: compare every pair.

    Returns:
        Counts of what was done.
    """
    plan = block_night(night_dir, model_path, extract_date, config_dir, models_dir, processes, cache_dir)
    workers = processes or load_config(config_dir).sharding.local_processes
    t = time.perf_counter()
    score_shards(night_dir, plan, config_dir, workers)
    scoring_wall = time.perf_counter() - t
    result = cluster_night(night_dir, state_url, extract_date, config_dir, models_dir, cache_dir)
    result.stage_seconds["scoring_wall"] = round(scoring_wall, 3)
    return result


def _seconds(plan: ShardPlan, shard_counts: list[dict[str, Any]]) -> dict[str, float]:
    """Tonight's link seconds: blocking's own, and the shards' compare and score summed (processor time)."""
    secs = dict(plan.seconds)
    for key in ("compare", "score"):
        secs[key] = secs.get(key, 0.0) + sum(float(c["seconds"].get(key, 0.0)) for c in shard_counts)
    secs["shard_io"] = sum(float(c["seconds"].get("read", 0.0)) + float(c["seconds"].get("write", 0.0))
                           for c in shard_counts)
    return secs


def cluster_night(night_dir: Path, state_url: str, extract_date: date, config_dir: Path,
                  models_dir: Path | None = None, cache_dir: Path | None = None) -> LinkResult:
    """Cluster tonight's scored shards: guards, clusters, stable person ids, outputs and mention resolution.

    The shards are read one at a time and only what clustering needs is kept of each: the pairs at or above
    the lower threshold (or forced by a reviewer), the guarded pairs below it, and the counts drift is
    measured on; a night's memory grows with its links, not with its candidate pairs.

    Args:
        night_dir: the night's folder, every shard of it scored (:func:`linkage.shards.score_shard`).
        state_url: SQLAlchemy URL of the state database.
        extract_date: the extract date.
        config_dir: the configuration folder.
        models_dir: the deployment's model store: a model fitted tonight is kept and activated there.
        cache_dir: the deployment's comparison cache: tonight's levels are kept there for the next night.

    Returns:
        Counts of what was done.
    """
    night_dir = Path(night_dir)
    layout = NightLayout(night_dir)
    config = load_config(config_dir)
    plan = ShardPlan.read(layout)
    shard_counts = check_scored(layout, plan)
    choice = plan.choice(FSModel.load(layout.shard_model))
    model = choice.model
    std = pl.read_parquet(layout.shard_records)
    people, mentions = _read_night(night_dir)
    night = NightInputs(people=people, mentions=mentions)
    secs = _seconds(plan, shard_counts)
    t = time.perf_counter()
    evidence = guard_evidence(std, _mentions_standardised(mentions, people, config_dir))
    forced_link, forced_split = _forced_pairs(std, _review_overrides(state_url))
    near, cannot, levels = _guarded_shards(layout, plan, std, config, forced_link, forced_split, evidence,
                                           min(_thresholds(model, config)))
    records, kept, guard_counts = _cluster_guarded(std, near, cannot, model, config, forced_link, forced_split)
    del near, cannot
    secs["cluster"] = time.perf_counter() - t
    t = time.perf_counter()
    records, id_stats = persist_ids(state_url, records, extract_date)
    secs["ids"] = time.perf_counter() - t
    pairs_out = _write_outputs(night_dir, records, kept)
    check = model_check(choice, profile_of_counts(levels, plan.pairs, kept, std.height), plan.blocking_stats(),
                        config, models_dir)
    write_model_check(night_dir, check)
    t = time.perf_counter()
    resolved = _resolve(night, std, records, model, config, config_dir, extract_date)
    outputs.write_parquet(resolved, layout.resolved_mentions)
    secs["mentions"] = time.perf_counter() - t
    result = _link_result(plan, records, kept, pairs_out, guard_counts, id_stats, resolved, check, model.version)
    del night, people, mentions, std, records, kept, pairs_out, resolved
    if cache_dir is not None and config.incremental.reuse_comparisons:
        t = time.perf_counter()
        write_cache(cache_dir, [layout.scored(k) for k in range(plan.shards)], pl.read_parquet(layout.shard_keys),
                    plan.comparison_key, extract_date.isoformat())
        secs["reuse"] = secs.get("reuse", 0.0) + time.perf_counter() - t
    result.stage_seconds = {k: round(v, 3) for k, v in secs.items()}
    result.shards = plan.shards
    result.pairs_reused = plan.reused
    result.pairs_compared = plan.pairs if plan.compared else sum(int(c["compared"]) for c in shard_counts)
    remove_work(layout)
    log.info("linkage: records=%d persons=%d links=%d review_pairs=%d shards=%d model=%s origin=%s", result.records,
             result.persons, result.links, result.review_pairs, plan.shards, model.version, check["model"]["origin"])
    return result


def _guarded_shards(layout: NightLayout, plan: ShardPlan, std: pl.DataFrame, config: LinkageConfig,
                    forced_link: pl.DataFrame, forced_split: pl.DataFrame, evidence: GuardEvidence,
                    floor: float) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, list[int]]]:
    """Every scored shard through the pair guards, one at a time.

    Returns:
        ``(near, cannot, levels)``: the guarded pairs at or above ``floor`` or forced, every column, sorted by
        ``uid_l``, ``uid_r``; the night's :func:`_cannot_links`, in that order;
        and the level counts of all the night's pairs (:func:`linkage.drift.level_counts`).
    """
    near, stopped = [], []
    levels: dict[str, list[int]] = {}
    for k in range(plan.shards):
        part = pl.read_parquet(layout.scored(k))
        levels = add_level_counts(levels, level_counts(part))
        g = _apply_pair_guards(std, part, config, forced_link, forced_split, evidence)
        near.append(g.filter((pl.col("match_probability") >= floor) | pl.col("_forced")))
        stopped.append(_cannot_links(g))
        del part, g
    return pl.concat(near).sort("uid_l", "uid_r"), pl.concat(stopped).sort("uid_l", "uid_r"), levels


def _link_result(plan: ShardPlan, records: pl.DataFrame, kept: pl.DataFrame, pairs_out: pl.DataFrame,
                 guard_counts: Counter[str], id_stats: Any, resolved: pl.DataFrame, check: dict[str, Any],
                 version: str) -> LinkResult:
    links = kept.filter(pl.col("decision") == "link")
    blocking = plan.blocking_stats()
    return LinkResult(
        records=records.height,
        persons=records["person_id"].n_unique(),
        pairs_scored=plan.pairs,
        links=int((pairs_out["decision"] == "link").sum()),
        review_pairs=int((pairs_out["decision"] == "review").sum()),
        guard_interventions=dict(sorted(guard_counts.items())),
        merges=id_stats.merges,
        splits=id_stats.splits,
        new_persons=id_stats.new,
        mentions=resolved.height,
        mentions_resolved=int(resolved["mentioned_person_id"].is_not_null().sum()) if resolved.height else 0,
        model_version=version,
        pairs_by_pass=dict(blocking.pairs_by_pass),
        blocking_by_pass=blocking.by_pass(),
        model=check["model"],
        drift=check["drift"],
        pass_coverage=pass_coverage(links.select(pl.col("passes").fill_null(0)), blocking.pass_names),
    )


def train_model(people_parquet_paths: list[Path], out_path: Path, config_dir: Path) -> Path:
    """Fit the model to the records of one or more nights and write the versioned model JSON.

    A record present on several nights counts once (its latest version). The fit is refused, with the
    reasons, when it fails its sanity checks (:class:`linkage.calibrate.FitError`).

    Args:
        people_parquet_paths: one or more ``landing/people.parquet`` files.
        out_path: where to write the model JSON (a folder: ``linkage_model_<version>.json`` inside it).
        config_dir: configuration folder (``linkage.yaml``, ``nicknames.yaml``, the starting model).

    Returns:
        The written model's path.
    """
    config = load_config(config_dir)
    frames = [pl.read_parquet(p).with_columns(pl.col("record_id").cast(pl.Utf8)) for p in people_parquet_paths]
    people = pl.concat(frames, how="diagonal_relaxed").unique(subset=["source", "record_id"], keep="last",
                                                               maintain_order=True)
    sc = standardise_block_compare(people, config, config_dir)
    start = FSModel.load(Path(config_dir) / "linkage_model.json")
    nights = sorted({Path(p).parent.parent.name for p in people_parquet_paths})
    model = fit_to_night(sc, start, config, config_dir, {"nights": nights, "how": "safelink train"})
    scored = score(sc.pairs, sc.records, model)
    _, kept, _ = cluster_scored(sc.records, scored, model, config)
    model.info["baseline"] = night_profile(sc.pairs, kept, sc.records.height)
    out = Path(out_path)
    if out.suffix != ".json":
        return save_versioned(model, out)
    return model.save(out)
