"""The link stage's first two seams: ``block_night`` cuts tonight's candidate pairs into shards, ``score_shard``
scores one of them with the night's fixed model (docs/scaling.md).

``block_night`` standardises tonight's records, makes the candidate pairs, chooses the night's model (fitting
one first on a deployment's first night, which needs every pair compared in one place) and writes, under
``linkage/shards/``: the standardised records, the term frequencies, the model, one Parquet file of candidate
pairs per shard and ``plan.json`` (counts only). A pair's shard is a fixed 64-bit mix of its two record ids
modulo the shard count: deterministic, and even whatever the blocking passes found. ``score_shard`` reads one
shard and only the records its pairs name, compares and scores them, and writes ``scored/part-<k>.parquet``.
Each pair's score depends on its two records, the night's model and the night's term frequencies alone, so
the shards can run anywhere in any order (mapped Airflow tasks, local processes) and clustering, which reads
them all and sorts, sees the same pairs whatever the shard count.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ground import outputs
from ground.layout import NightLayout
from ground.processes import run_in_processes
from linkage.blocking import BlockingStats
from linkage.compare import COMPARISONS
from linkage.config import LinkageConfig
from linkage.frames import COMPARE_COLUMNS
from linkage.model import TF_COMPARISONS, Frequencies, FSModel, score
from linkage.night_model import ModelChoice, choose_model
from linkage.prepare import Scored, compare_levels, compare_levels_in_processes, load_config, standardise_block
from linkage.reuse import comparison_key, record_keys, with_cached_levels

log = logging.getLogger(__name__)

PLAN_FORMAT = 1


@dataclass
class ShardPlan:
    """What ``block_night`` left for the scoring shards and for clustering (counts only, no person data)."""

    token: str
    shards: int
    pairs: int
    pairs_per_shard: list[int]
    n_records: int
    compared: bool
    reused: int
    comparison_key: str
    model: dict[str, Any]
    blocking: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    format: int = PLAN_FORMAT

    def write(self, layout: NightLayout) -> Path:
        """Write ``linkage/shards/plan.json``.

        Args:
            layout: the night's folder.
        """
        return outputs.write_json(layout.shard_plan, asdict(self))

    @classmethod
    def read(cls, layout: NightLayout) -> ShardPlan:
        """Read ``linkage/shards/plan.json``.

        Args:
            layout: the night's folder.

        Raises:
            FileNotFoundError: the night was not blocked (run ``block_night`` first).
        """
        if not layout.shard_plan.is_file():
            raise FileNotFoundError(f"{layout.shard_plan}: the night's linkage was not blocked yet: run the link "
                                    "stage's block step (safelink run, or the DAG's block task) first")
        doc = json.loads(layout.shard_plan.read_text(encoding="utf-8"))
        if doc.get("format") != PLAN_FORMAT:
            raise ValueError(f"{layout.shard_plan}: written by another version; block the night again")
        return cls(**doc)

    def blocking_stats(self) -> BlockingStats:
        """The blocking counts as :class:`linkage.blocking.BlockingStats`."""
        return BlockingStats(**{**self.blocking, "pass_names": tuple(self.blocking["pass_names"])})

    def choice(self, model: FSModel) -> ModelChoice:
        """The night's model choice, with ``model`` (read from ``linkage/shards/model.json``).

        Args:
            model: the night's model.
        """
        m = self.model
        return ModelChoice(model, m["origin"], m["path"], dict(m["facts"]), bool(m["fitted_tonight"]))


def shard_count(pairs: int, config: LinkageConfig, processes: int) -> int:
    """How many shards tonight's pairs are cut into: ``pairs / pairs_per_shard`` rounded up, at least one per
    process, at most ``max_shards``.

    Args:
        pairs: candidate pairs tonight.
        config: the linkage configuration (``sharding``).
        processes: local processes that will score them.
    """
    s = config.sharding
    return max(1, min(max(math.ceil(pairs / s.pairs_per_shard), processes), s.max_shards))


def shard_of(uid_l: np.ndarray, uid_r: np.ndarray, shards: int) -> np.ndarray:
    """Each pair's shard: the splitmix64 finaliser of ``uid_l << 32 | uid_r``, modulo ``shards``.

    Fixed arithmetic (not a library's hash, which may change between versions) spreads neighbouring record ids,
    as a household's records are, over every shard.

    Args:
        uid_l: left record ids (non-negative, below 2**32).
        uid_r: right record ids.
        shards: the shard count.
    """
    x = (uid_l.astype(np.uint64) << np.uint64(32)) | uid_r.astype(np.uint64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x % np.uint64(shards)).astype(np.int64)


def _read_people(layout: NightLayout) -> pl.DataFrame:
    return pl.read_parquet(layout.people).with_columns(pl.col("record_id").cast(pl.Utf8))


def _fresh_folder(layout: NightLayout) -> None:
    """Remove what an earlier run of this night left, so no stale shard is ever read."""
    if layout.shards.exists():
        shutil.rmtree(layout.shards)
    (layout.shards / "candidates").mkdir(parents=True)
    (layout.shards / "scored").mkdir(parents=True)


def _write_shards(layout: NightLayout, pairs: pl.DataFrame, shards: int) -> list[int]:
    assigned = pairs.with_columns(
        pl.Series("_shard", shard_of(pairs["uid_l"].to_numpy(), pairs["uid_r"].to_numpy(), shards)))
    parts = assigned.partition_by("_shard", as_dict=True, include_key=False)
    sizes = []
    for k in range(shards):
        part = parts.get((k,), assigned.clear().drop("_shard"))
        outputs.write_parquet(part, layout.candidates(k))
        sizes.append(part.height)
    return sizes


def block_night(night_dir: Path, model_path: Path, extract_date: date, config_dir: Path,
                models_dir: Path | None = None, processes: int | None = None,
                cache_dir: Path | None = None) -> ShardPlan:
    """Standardise and block tonight's records, choose the night's model and write the scoring shards.

    Args:
        night_dir: the night's folder (reads ``landing/people.parquet``).
        model_path: the starting model JSON.
        extract_date: the night.
        config_dir: the configuration folder.
        models_dir: the deployment's model store (see :func:`linkage.night_model.choose_model`); None: score
            with ``model_path`` as it is.
        processes: local processes that will score the shards (None: ``sharding.processes``, resolved).
        cache_dir: the deployment's comparison cache (:mod:`linkage.reuse`; None or ``incremental.reuse_comparisons``
            false: every pair is compared).

    Returns:
        The plan: the shard count, pairs per shard and the facts clustering needs (counts only).
    """
    layout = NightLayout(Path(night_dir))
    config = load_config(config_dir)
    sc = standardise_block(_read_people(layout), config, config_dir)
    workers = processes or config.sharding.local_processes
    compared = False

    def compare_all() -> Scored:
        nonlocal compared
        if not compared:
            t = time.perf_counter()
            sc.pairs = compare_levels_in_processes(sc.records, sc.pairs, config_dir, workers)
            sc.seconds["compare"] = time.perf_counter() - t
            compared = True
        return sc

    t = time.perf_counter()
    choice = choose_model(models_dir, Path(model_path), compare_all, config, config_dir, extract_date)
    sc.seconds["model"] = time.perf_counter() - t - sc.seconds.get("compare", 0.0)
    t = time.perf_counter()
    _fresh_folder(layout)
    ckey = comparison_key(config_dir)
    keys = record_keys(sc.records)
    reused = 0
    if not compared and config.incremental.reuse_comparisons:
        sc.pairs, reused = with_cached_levels(sc.pairs, keys, cache_dir, ckey)
    sc.seconds["reuse"] = time.perf_counter() - t
    t = time.perf_counter()
    freq = Frequencies.of(sc.records)
    outputs.write_parquet(keys, layout.shard_keys)
    outputs.write_parquet(sc.records, layout.shard_records)
    outputs.write_parquet(freq.to_frame(), layout.shard_frequencies)
    choice.model.save(layout.shard_model, exact=True)
    n = shard_count(sc.pairs.height, config, workers)
    sizes = _write_shards(layout, sc.pairs, n)
    sc.seconds["shard"] = time.perf_counter() - t
    plan = ShardPlan(
        token=uuid.uuid4().hex, shards=n, pairs=sc.pairs.height, pairs_per_shard=sizes, n_records=freq.n_records,
        compared=compared, reused=reused, comparison_key=ckey,
        model={"origin": choice.origin, "path": choice.path, "facts": choice.facts,
               "fitted_tonight": choice.fitted_tonight},
        blocking={**asdict(sc.blocking), "pass_names": list(sc.blocking.pass_names)},
        seconds={k: round(v, 3) for k, v in sc.seconds.items()},
    )
    plan.write(layout)
    log.info("linkage: %d candidate pairs (%d with last night's comparisons) in %d shard(s), model %s (%s)",
             plan.pairs, reused, n, choice.model.version, choice.origin)
    return plan


#: Standardised columns scoring reads: the compared ones, the record id and the term-frequency columns.
SCORE_COLUMNS = ["uid", *COMPARE_COLUMNS, *sorted({col for col, _ in TF_COMPARISONS.values()} - set(COMPARE_COLUMNS))]


def _shard_records(layout: NightLayout, pairs: pl.DataFrame) -> pl.DataFrame:
    """Only the records a shard's pairs name, and only the columns scoring reads."""
    uids = pl.concat([pairs["uid_l"], pairs["uid_r"]]).unique()
    lf = pl.scan_parquet(layout.shard_records)
    cols = [c for c in SCORE_COLUMNS if c in lf.collect_schema().names()]
    return lf.select(cols).filter(pl.col("uid").is_in(uids.implode())).collect()


def score_shard(night_dir: Path, shard: int, config_dir: Path) -> dict[str, Any]:
    """Compare and score one shard's candidate pairs with the night's fixed model.

    Writes ``linkage/shards/scored/part-<k>.parquet`` and its counts beside it.

    Args:
        night_dir: the night's folder (blocked by :func:`block_night`).
        shard: the shard's index, ``0 <= shard < plan.shards``.
        config_dir: the configuration folder (the alias table).

    Returns:
        ``shard``, ``pairs`` and ``seconds`` (counts only).

    Raises:
        ValueError: no such shard tonight.
    """
    layout = NightLayout(Path(night_dir))
    plan = ShardPlan.read(layout)
    if not 0 <= shard < plan.shards:
        raise ValueError(f"shard {shard} is not one of tonight's {plan.shards} shard(s)")
    secs: dict[str, float] = {}
    t = time.perf_counter()
    pairs = pl.read_parquet(layout.candidates(shard))
    records = _shard_records(layout, pairs)
    model = FSModel.load(layout.shard_model)
    freq = Frequencies.from_frame(pl.read_parquet(layout.shard_frequencies), plan.n_records)
    secs["read"] = time.perf_counter() - t
    t = time.perf_counter()
    levels, compared = _levels(pairs, records, config_dir)
    secs["compare"] = time.perf_counter() - t
    t = time.perf_counter()
    scored = score(levels, records, model, freq)
    secs["score"] = time.perf_counter() - t
    t = time.perf_counter()
    outputs.write_parquet(scored, layout.scored(shard))
    secs["write"] = time.perf_counter() - t
    counts = {"shard": shard, "pairs": scored.height, "compared": compared,
              "seconds": {k: round(v, 3) for k, v in secs.items()}}
    outputs.write_json(layout.scored_counts(shard), {**counts, "token": plan.token})
    return counts


def _levels(pairs: pl.DataFrame, records: pl.DataFrame, config_dir: Path) -> tuple[pl.DataFrame, int]:
    """A shard's pairs with their levels: those blocking found (a first night's, or last night's) and the rest
    compared here. Returns the pairs in their order and how many were compared here."""
    if COMPARISONS[0] not in pairs.columns:
        return compare_levels(records, pairs, config_dir), pairs.height
    known = pl.col(COMPARISONS[0]).is_not_null()
    todo = pairs.filter(~known)
    if todo.height == 0:
        return pairs, 0
    fresh = compare_levels(records, todo.drop([c for c in COMPARISONS if c in todo.columns]), config_dir)
    merged = pl.concat([pairs.filter(known), fresh.select(pairs.columns)], how="vertical")
    return merged.sort("uid_l", "uid_r"), todo.height


def score_shards(night_dir: Path, plan: ShardPlan, config_dir: Path, processes: int) -> list[dict[str, Any]]:
    """Score every shard of the night: in this process, or in up to ``processes`` local processes
    (:func:`ground.processes.run_in_processes`).

    Args:
        night_dir: the night's folder.
        plan: from :func:`block_night`.
        config_dir: the configuration folder.
        processes: local processes (1: here, one shard after another).

    Returns:
        Each shard's counts, in shard order.
    """
    calls = [(score_shard, (Path(night_dir), k, Path(config_dir))) for k in range(plan.shards)]
    return run_in_processes(calls, processes)


def check_scored(layout: NightLayout, plan: ShardPlan) -> list[dict[str, Any]]:
    """Each shard's counts, once every shard of this blocking of the night is scored.

    Args:
        layout: the night's folder.
        plan: the night's plan.

    Returns:
        Each shard's counts, in shard order.

    Raises:
        FileNotFoundError: a shard was not scored (the message names which).
        ValueError: a shard was scored for an earlier blocking of the night.
    """
    counts = []
    for k in range(plan.shards):
        path = layout.scored_counts(k)
        if not path.is_file() or not layout.scored(k).is_file():
            raise FileNotFoundError(f"{layout.scored(k)}: shard {k} of {plan.shards} was not scored: score it "
                                    "(the DAG's score_shard task, or safelink run) before clustering")
        c = json.loads(path.read_text(encoding="utf-8"))
        if c.get("token") != plan.token:
            raise ValueError(f"{path}: scored for an earlier blocking of this night: score shard {k} again")
        counts.append(c)
    return counts


def read_scored(layout: NightLayout, plan: ShardPlan) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Every shard's scored pairs, in one frame sorted by ``uid_l``, ``uid_r`` (the same whatever the shard count).

    Args:
        layout: the night's folder.
        plan: the night's plan.

    Returns:
        ``(scored, counts)``: the pairs and each shard's counts (see :func:`check_scored`).
    """
    counts = check_scored(layout, plan)
    scored = pl.concat([pl.read_parquet(layout.scored(k)) for k in range(plan.shards)], how="vertical")
    return scored.sort("uid_l", "uid_r"), counts


def remove_work(layout: NightLayout) -> None:
    """Remove the shards' person data once the night's outputs are written (the plan and model stay).

    Args:
        layout: the night's folder.
    """
    for folder in (layout.shards / "candidates", layout.shards / "scored"):
        shutil.rmtree(folder, ignore_errors=True)
    for path in (layout.shard_records, layout.shard_frequencies, layout.shard_keys):
        path.unlink(missing_ok=True)
