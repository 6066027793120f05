"""Incremental nights: a pair whose two records are unchanged since the night before keeps its comparison levels.

A pair's agreement levels depend only on its two records' compared columns, the alias table and the comparison
code. Each night keeps tonight's levels in ``<output>/linkage_cache/levels.parquet``, keyed by both records'
content keys (two 64-bit hashes of the compared columns each) and stamped with a comparison key (a hash of the
comparison code, the alias table and the library versions). The next night, a candidate pair whose two records
have the same content keys, in the same order, under the same comparison key, takes its levels from the cache;
every other pair (a new or changed record, a pair blocking did not propose last night) is compared afresh.

Scores are never reused: they depend on tonight's model, term frequencies and number of records, all cheap to
apply, so every pair is scored every night and a night's outputs are the same with or without the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import metadata
from pathlib import Path

import polars as pl

from ground import outputs
from linkage import compare, frames, standardise
from linkage.compare import COMPARISONS, LEVELS
from linkage.frames import COMPARE_COLUMNS

log = logging.getLogger(__name__)

CACHE_FILE = "levels.parquet"
STAMP_FILE = "levels.json"
KEYS = ("k1", "k2")
_SEEDS = (0x5AFE11AC, 0x0DD53A11)


def comparison_key(config_dir: Path) -> str:
    """What tonight's comparisons depend on besides the two records: their code, the alias table, the libraries.

    Args:
        config_dir: the configuration folder (``nicknames.yaml``).
    """
    h = hashlib.sha256()
    for module in (compare, frames, standardise):
        h.update(Path(str(module.__file__)).read_bytes())
    nicknames = Path(config_dir) / "nicknames.yaml"
    h.update(nicknames.read_bytes() if nicknames.is_file() else b"")
    for package in ("polars", "numpy", "pandas", "rapidfuzz", "recordlinkage"):
        h.update(f"{package}={metadata.version(package)};".encode())
    h.update(json.dumps({"columns": COMPARE_COLUMNS, "levels": LEVELS}, sort_keys=True).encode())
    return h.hexdigest()


def record_keys(records: pl.DataFrame) -> pl.DataFrame:
    """Each record's content key: two independent 64-bit hashes of its compared columns (``uid``, ``k1``, ``k2``).

    Args:
        records: standardised records.
    """
    cols = [c for c in COMPARE_COLUMNS if c in records.columns]
    row = pl.struct(cols)
    return records.select("uid", *[row.hash(seed).alias(k) for k, seed in zip(KEYS, _SEEDS, strict=True)])


def _keyed(pairs: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    left = keys.rename({"uid": "uid_l", **{k: f"{k}_l" for k in KEYS}})
    right = keys.rename({"uid": "uid_r", **{k: f"{k}_r" for k in KEYS}})
    return pairs.join(left, on="uid_l", how="left").join(right, on="uid_r", how="left")


_PAIR_KEY = [f"{k}_{side}" for side in ("l", "r") for k in KEYS]


def with_cached_levels(pairs: pl.DataFrame, keys: pl.DataFrame, cache_dir: Path | None,
                       ckey: str) -> tuple[pl.DataFrame, int]:
    """Tonight's candidate pairs with the levels last night's cache holds for them (null where it holds none).

    Args:
        pairs: tonight's candidate pairs (``uid_l``, ``uid_r``, ...), in their order.
        keys: :func:`record_keys` of tonight's records.
        cache_dir: the deployment's cache folder (None: no reuse).
        ckey: :func:`comparison_key` tonight.

    Returns:
        ``(pairs, reused)``: the pairs with one level column per comparison when the cache is usable (else as
        they were), and how many pairs took their levels from it.
    """
    stamp = _stamp(cache_dir)
    if cache_dir is None or stamp.get("comparison_key") != ckey or pairs.height == 0:
        return pairs, 0
    try:
        cached = pl.read_parquet(cache_dir / CACHE_FILE)
    except (OSError, pl.exceptions.PolarsError) as err:  # a damaged cache costs time, never the night
        log.warning("linkage: last night's comparisons cannot be read (%s): comparing every pair", type(err).__name__)
        return pairs, 0
    out = _keyed(pairs, keys).join(cached, on=_PAIR_KEY, how="left", maintain_order="left").drop(_PAIR_KEY)
    reused = int(out[COMPARISONS[0]].is_not_null().sum())
    return out, reused


def _stamp(cache_dir: Path | None) -> dict[str, str]:
    if cache_dir is None or not (cache_dir / STAMP_FILE).is_file() or not (cache_dir / CACHE_FILE).is_file():
        return {}
    try:
        return dict(json.loads((cache_dir / STAMP_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def write_cache(cache_dir: Path, parts: list[Path], keys: pl.DataFrame, ckey: str, night: str) -> int:
    """Keep tonight's levels for the next night (replacing last night's).

    Args:
        cache_dir: the deployment's cache folder.
        parts: Parquet files of tonight's pairs with their level columns (the scoring shards), read one at a time.
        keys: :func:`record_keys` of tonight's records.
        ckey: :func:`comparison_key` tonight.
        night: tonight's date (for the stamp).

    Returns:
        The number of pairs kept.
    """
    def keyed(path: Path) -> pl.DataFrame:
        cols = [c for c in COMPARISONS if c in pl.read_parquet_schema(path)]
        levels = pl.read_parquet(path, columns=["uid_l", "uid_r", *cols])
        return _keyed(levels, keys).select(*_PAIR_KEY, *cols).unique(
            subset=_PAIR_KEY, keep="first", maintain_order=True)

    # two pairs whose records have the same content have the same levels: one row each is enough
    cache = pl.concat([keyed(p) for p in parts]).unique(
        subset=_PAIR_KEY, keep="first", maintain_order=True)
    (cache_dir / STAMP_FILE).unlink(missing_ok=True)  # a cache without its stamp is never read
    outputs.write_parquet(cache, cache_dir / CACHE_FILE)
    outputs.write_json(cache_dir / STAMP_FILE, {"comparison_key": ckey, "night": night, "pairs": cache.height})
    return cache.height
