"""The linkage stage: ``link_night`` (score with a trained model) and ``train_model`` (EM)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from checks.safe_csv import write_safe_csv
from linkage.blocking import BlockingStats, candidate_pairs, passes_from_config
from linkage.cluster import cluster_links, pair_guards
from linkage.compare import COMPARISONS, LEVELS, compare_pairs
from linkage.config import load_linkage_config
from linkage.frames import levels_to_polars, to_recordlinkage
from linkage.ids import persist_ids
from linkage.mentions import resolve_mentions
from linkage.model import FSModel, score, train_fs
from linkage.standardise import nickname_pairs, standardise_people
from safelink import outputs

log = logging.getLogger(__name__)

DEFAULT_LINK_THRESHOLD = 0.9
MENTION_SCHEMA = {
    "source": pl.Utf8, "owner_record_id": pl.Utf8, "file": pl.Utf8, "row": pl.Int64, "kind": pl.Utf8,
    "forename": pl.Utf8, "surname": pl.Utf8, "dob": pl.Date, "nhs_number": pl.Utf8, "relationship": pl.Utf8,
    "lives_with": pl.Boolean, "parental_responsibility": pl.Boolean, "owner_known": pl.Boolean,
}
DEFAULT_REVIEW_THRESHOLD = 0.5


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


def load_config(config_dir: Path) -> dict[str, Any]:
    """Read and validate ``linkage.yaml`` from the configuration folder (defaults if absent).

    Args:
        config_dir: the configuration folder.
    """
    return load_linkage_config(config_dir)


def _nicknames_path(config_dir: Path) -> Path:
    return Path(config_dir) / "nicknames.yaml"


@dataclass
class Scored:
    """Intermediate results of standardise → block → compare → score."""

    records: pl.DataFrame
    pairs: pl.DataFrame
    blocking: BlockingStats
    seconds: dict[str, float]


def standardise_block_compare(people: pl.DataFrame, config: dict, config_dir: Path) -> Scored:
    """Standardise the people table, make candidate pairs and compute comparison levels.

    Args:
        people: canonical people table.
        config: parsed ``linkage.yaml``.
        config_dir: configuration folder (for the alias table).
    """
    secs: dict[str, float] = {}
    t = time.perf_counter()
    gcfg = config.get("guards") or {}
    std = standardise_people(
        people,
        _nicknames_path(config_dir),
        tuple(gcfg.get("nhs_verified_statuses", ["01"])),
        tuple(gcfg.get("nhs_verified_without_status", [])),
    )
    secs["standardise"] = time.perf_counter() - t
    t = time.perf_counter()
    bcfg = config.get("blocking") or {}
    pairs, bstats = candidate_pairs(
        std,
        passes_from_config(config),
        max_block_size=int(bcfg.get("max_block_size", 300)),
        dedupe_sources=frozenset(config.get("dedupe_within_sources", [])),
    )
    secs["block"] = time.perf_counter() - t
    t = time.perf_counter()
    pdf, idx = to_recordlinkage(std, pairs)
    levels = levels_to_polars(compare_pairs(idx, pdf, nickname_pairs(str(_nicknames_path(config_dir)))))
    secs["compare"] = time.perf_counter() - t
    return Scored(records=std, pairs=levels, blocking=bstats, seconds=secs)


def _thresholds(model: FSModel, config: dict) -> tuple[float, float]:
    th = config.get("thresholds") or {}
    link = th.get("link")
    review = th.get("review")
    return (
        float(link) if link is not None else model.link_threshold,
        float(review) if review is not None else model.review_threshold,
    )


FORCED_WEIGHT = 1e9


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


#: Forename levels under which a link itself shows the two records name the same person (close: a slip).
FORENAME_AGREES = ("close", "exact", "nickname_or_alt", "swapped")


def cluster_scored(
    std: pl.DataFrame,
    scored: pl.DataFrame,
    model: FSModel,
    config: dict,
    overrides: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, Counter]:
    """Apply guards and thresholds and cluster.

    Args:
        std: standardised records.
        scored: scored pairs (levels, ``w_*``, ``weight``, ``match_probability``).
        model: the model (thresholds).
        config: parsed ``linkage.yaml``.
        overrides: clerical review decisions (``source_l``, ``record_id_l``, ``source_r``,
            ``record_id_r``, ``decision`` = ``force_link`` | ``force_split``): a forced link is
            accepted whatever its score or pair guard (cluster guards still apply); a forced split
            never joins the two records.

    Returns:
        ``(records, pairs, guard_counts)``: records with ``cluster``, ``cluster_size``,
        ``link_confidence``; the link and review pairs with ``decision`` and ``guard``.
    """
    link_t, review_t = _thresholds(model, config)
    gcfg = config.get("guards") or {}
    g = pair_guards(scored, std, int(gcfg.get("namesake_min_years", 12)))
    enabled = set(gcfg.get("pair_guards", ["twins", "namesake", "nhs_conflict"]))
    g = g.with_columns(
        pl.when(pl.col("pair_guard").is_in(list(enabled))).then(pl.col("pair_guard")).otherwise(None)
    )
    forced_link = _override_pairs(std, overrides, "force_link").with_columns(pl.lit(True).alias("_forced"))
    forced_split = _override_pairs(std, overrides, "force_split")
    g = g.join(forced_link, on=["uid_l", "uid_r"], how="left").with_columns(pl.col("_forced").fill_null(False))
    g = g.with_columns(
        pl.when(pl.col("_forced")).then(None).otherwise(pl.col("pair_guard")).alias("pair_guard")
    )
    g = g.join(forced_split.with_columns(pl.lit(True).alias("_split")), on=["uid_l", "uid_r"], how="left")
    g = g.with_columns(
        pl.when(pl.col("_split").fill_null(False)).then(pl.lit("review_split")).otherwise(pl.col("pair_guard"))
        .alias("pair_guard")
    ).drop("_split")
    g = g.with_row_index("_pid")
    cannot = pl.concat(
        [
            g.filter(pl.col("pair_guard").is_not_null()).select("uid_l", "uid_r", "pair_guard"),
            forced_split.with_columns(pl.lit("review_split").alias("pair_guard")),
        ]
    ).unique(subset=["uid_l", "uid_r"], keep="first")
    above = g.filter((pl.col("match_probability") >= link_t) | pl.col("_forced"))
    wcols = [c for c in g.columns if c.startswith("w_") and c != "w_nhs"]
    links = above.filter(pl.col("pair_guard").is_null()).with_columns(
        pl.when(pl.col("_forced")).then(FORCED_WEIGHT).otherwise(pl.sum_horizontal(wcols)).alias("evidence"),
        pl.when(pl.col("_forced")).then(FORCED_WEIGHT).otherwise(pl.col("weight")).alias("weight"),
        pl.col("forename").is_in([LEVELS["forename"].index(v) for v in FORENAME_AGREES]).fill_null(False)
        .alias("forename_agrees"),
    )
    # forced links the blocking did not propose tonight
    unseen = forced_link.join(g.select("uid_l", "uid_r"), on=["uid_l", "uid_r"], how="anti")
    if unseen.height:
        links = pl.concat(
            [
                links,
                unseen.with_columns(
                    pl.lit(None, dtype=pl.UInt32).alias("_pid"),
                    pl.lit(FORCED_WEIGHT).alias("weight"),
                    pl.lit(FORCED_WEIGHT).alias("evidence"),
                ),
            ],
            how="diagonal_relaxed",
        )
    res = cluster_links(
        std.height,
        links,
        cannot,
        std,
        frozenset(config.get("dedupe_within_sources", [])),
        float(gcfg.get("nhs_override_evidence", 30.0)),
    )
    counts: Counter = Counter()
    counts.update(above.filter(pl.col("pair_guard").is_not_null())["pair_guard"].to_list())
    counts.update(res.guard_counts)
    link_outcome = links.select("_pid").with_columns(
        pl.Series("_accepted", res.accepted), pl.Series("_cut", res.cut_reason, dtype=pl.Utf8)
    )
    link_outcome = link_outcome.filter(pl.col("_pid").is_not_null())
    counts.update({"review_link": int(forced_link.height), "review_split": int(forced_split.height)})
    counts = Counter({k: v for k, v in counts.items() if v})
    kept = g.filter((pl.col("match_probability") >= review_t) | pl.col("_forced"))
    kept = kept.join(link_outcome, on="_pid", how="left").drop("_forced")
    kept = kept.with_columns(
        pl.when(pl.col("_accepted").fill_null(False)).then(pl.lit("link")).otherwise(pl.lit("review")).alias(
            "decision"
        ),
        pl.coalesce("pair_guard", "_cut").alias("guard"),
    ).drop("_accepted", "_cut", "pair_guard", "_pid")
    labels = res.labels
    records = std.select("uid", "source", "record_id").with_columns(pl.Series("cluster", labels, dtype=pl.Int64))
    records = records.with_columns(pl.len().over("cluster").cast(pl.Int64).alias("cluster_size"))
    acc = kept.filter(pl.col("decision") == "link").select("uid_l", "uid_r", "match_probability")
    best = (
        pl.concat([acc.select(pl.col("uid_l").alias("uid"), "match_probability"),
                   acc.select(pl.col("uid_r").alias("uid"), "match_probability")])
        .group_by("uid")
        .agg(pl.col("match_probability").max().alias("link_confidence"))
    )
    records = records.join(best, on="uid", how="left", maintain_order="left").with_columns(
        pl.col("link_confidence").fill_null(1.0)
    )
    return records, kept, counts


def _review_overrides(state_url: str) -> pl.DataFrame | None:
    """The clerical reviewers' standing decisions (``report.review``), if that stage is installed."""
    try:
        from report.review import review_overrides
    except ImportError:
        return None
    return review_overrides(state_url)


def link_night(night_dir: Path, model_path: Path, state_url: str, extract_date: date, config_dir: Path) -> LinkResult:
    """Link one night's people records into persons and resolve mentions.

    Reads ``landing/people.parquet`` and ``landing/mentions.parquet`` under ``night_dir``; writes
    ``linkage/records.parquet``, ``linkage/pairs.parquet``, ``linkage/mentions.parquet`` and
    ``person_links.csv``; stores stable person ids in the state database.

    Args:
        night_dir: the night's output folder (``<output>/<YYYY-MM-DD>``).
        model_path: the trained model JSON.
        state_url: SQLAlchemy URL of the state database.
        extract_date: the extract date.
        config_dir: the configuration folder (``linkage.yaml``, ``nicknames.yaml``).

    Returns:
        Counts of what was done.
    """
    night_dir = Path(night_dir)
    config = load_config(config_dir)
    model = FSModel.load(model_path)
    people = pl.read_parquet(night_dir / "landing" / "people.parquet")
    mpath = night_dir / "landing" / "mentions.parquet"
    mentions = pl.read_parquet(mpath) if mpath.exists() else pl.DataFrame(schema=MENTION_SCHEMA)
    people = people.with_columns(pl.col("record_id").cast(pl.Utf8))
    sc = standardise_block_compare(people, config, config_dir)
    secs = dict(sc.seconds)
    t = time.perf_counter()
    scored = score(sc.pairs, sc.records, model)
    secs["score"] = time.perf_counter() - t
    t = time.perf_counter()
    records, kept, guard_counts = cluster_scored(sc.records, scored, model, config, _review_overrides(state_url))
    secs["cluster"] = time.perf_counter() - t
    t = time.perf_counter()
    records, id_stats = persist_ids(state_url, records, extract_date)
    secs["ids"] = time.perf_counter() - t

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
                "decision", *wcols, "guard")
        .sort("source_l", "record_id_l", "source_r", "record_id_r")
    )
    outputs.write_parquet(pairs_out, out_dir / "pairs.parquet")
    write_safe_csv(records.select("source", "record_id", "person_id").sort("source", "record_id"),
                   night_dir / "person_links.csv")

    t = time.perf_counter()
    mcfg = config.get("mentions") or {}
    resolved = resolve_mentions(
        mentions,
        people,
        sc.records,
        records.select("uid", "person_id"),
        model,
        _nicknames_path(config_dir),
        nickname_pairs(str(_nicknames_path(config_dir))),
        float(mcfg.get("min_confidence", 0.7)),
        float(mcfg.get("prior_in_data", 0.9)),
        float(mcfg.get("min_margin", 4.0)),
        extract_date=extract_date,
        newborn_days=int(mcfg.get("newborn_days", 14)),
        newborn_prior_in_data=float(mcfg.get("newborn_prior_in_data", 0.3)),
    )
    outputs.write_parquet(resolved, out_dir / "mentions.parquet")
    secs["mentions"] = time.perf_counter() - t

    result = LinkResult(
        records=records.height,
        persons=records["person_id"].n_unique(),
        pairs_scored=scored.height,
        links=int((pairs_out["decision"] == "link").sum()),
        review_pairs=int((pairs_out["decision"] == "review").sum()),
        guard_interventions=dict(sorted(guard_counts.items())),
        merges=id_stats.merges,
        splits=id_stats.splits,
        new_persons=id_stats.new,
        mentions=resolved.height,
        mentions_resolved=int(resolved["mentioned_person_id"].is_not_null().sum()) if resolved.height else 0,
        model_version=model.version,
        stage_seconds={k: round(v, 3) for k, v in secs.items()},
        pairs_by_pass=dict(sc.blocking.pairs_by_pass),
    )
    log.info("linkage: %d records, %d persons, %d links", result.records, result.persons, result.links)
    return result


def random_pairs(n_records: int, n_pairs: int, seed: int) -> pl.DataFrame:
    """Uniform random distinct record pairs (for u estimation).

    Args:
        n_records: number of records.
        n_pairs: pairs wanted (before removing self-pairs and duplicates).
        seed: random seed.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_records, n_pairs)
    b = rng.integers(0, n_records, n_pairs)
    df = pl.DataFrame({"uid_l": np.minimum(a, b), "uid_r": np.maximum(a, b)})
    return df.filter(pl.col("uid_l") != pl.col("uid_r")).unique().sort("uid_l", "uid_r")


def train_model(people_parquet_paths: list[Path], out_path: Path, config_dir: Path) -> Path:
    """Train the Fellegi–Sunter model by EM and write the versioned model JSON.

    u comes from random record pairs; m and λ from EM on the agreement-pattern counts of the
    blocked candidate pairs.

    Args:
        people_parquet_paths: one or more ``landing/people.parquet`` files (e.g. a generated county).
        out_path: where to write the model JSON.
        config_dir: configuration folder (``linkage.yaml``, ``nicknames.yaml``).

    Returns:
        ``out_path``.
    """
    config = load_config(config_dir)
    frames = [pl.read_parquet(p).with_columns(pl.col("record_id").cast(pl.Utf8)) for p in people_parquet_paths]
    people = pl.concat(frames, how="diagonal_relaxed")
    sc = standardise_block_compare(people, config, config_dir)
    tcfg = config.get("training") or {}
    rnd = random_pairs(sc.records.height, int(tcfg.get("random_pairs", 400_000)), int(tcfg.get("seed", 1)))
    pdf, idx = to_recordlinkage(sc.records, rnd)
    rnd_levels = levels_to_polars(compare_pairs(idx, pdf, nickname_pairs(str(_nicknames_path(config_dir)))))
    th = config.get("thresholds") or {}
    digest = hashlib.sha256(
        (str(sc.pairs.height) + str(sorted(config.items(), key=str))).encode()
    ).hexdigest()[:8]
    version = f"{datetime.now(UTC):%Y%m%d}-{digest}"
    model = train_fs(
        sc.pairs,
        rnd_levels,
        COMPARISONS,
        version,
        float(th.get("link") or DEFAULT_LINK_THRESHOLD),
        float(th.get("review") or DEFAULT_REVIEW_THRESHOLD),
        n_records=sc.records.height,
        m_floors=(tcfg.get("m_floors") or None),
    )
    model.info["records"] = sc.records.height
    return model.save(Path(out_path))
