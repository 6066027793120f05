"""This project's linkage against a Splink 5 model on DuckDB, on the same generated county.

``python -m bench.splink_compare --sizes 10000,100000``

Both sides read the same input: night 1's ``landing/people.parquet`` (the project's canonical
people table after ingest), so ingest quirks affect both alike. Each side runs in a fresh
process, back to back in one invocation, and is scored the same way (pairwise precision,
recall and F1 against ``truth/<date>/persons.csv`` over every record of the people table).

The project side is ``stage_link`` with the shipped model (``config/linkage_model.json``) into a
fresh output folder and state database: standardise, block, compare, score, guarded clustering,
stable ids and mention resolution. Its model is trained offline, so Splink is quoted twice:
"predict + cluster" (the like-for-like nightly cost with a trained model) and "train + predict +
cluster" (what a Splink job that trains every night would cost).

Splink settings (documented in ``docs/benchmarks.md``):

- ``link_type="dedupe_only"`` over all seven sources together; ``unique_id = source:record_id``.
- light cleaning in DuckDB: names lower-cased and trimmed, postcode upper-cased, ``birth_year``.
- comparisons: ``NameComparison`` (Jaro-Winkler 0.92/0.88/0.70) on forename and surname,
  ``DateOfBirthComparison`` (date input), ``PostcodeComparison``, ``ExactMatch`` on NHS number and sex.
- prediction blocking rules: NHS number; dob + surname; postcode + birth year; forename + dob.
- training: λ from the deterministic rules NHS number and dob + surname (recall 0.8); u by random
  sampling (``max_pairs=5e6``, seed 1); m by EM on ``block_on("dob")`` and ``block_on("postcode")``.
- decision: ``predict(threshold_match_probability=0.5)`` then connected components at 0.9.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.data import RAW, County, ensure_county, git_commit
from bench.measure import run_worker
from bench.quality import pairwise_scores

log = logging.getLogger("bench.splink_compare")

MATCH_THRESHOLD = 0.9
PREDICT_THRESHOLD = 0.5
U_MAX_PAIRS = 5e6


def _settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("forename"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("nhs_number"),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("nhs_number"),
            block_on("dob", "surname"),
            block_on("postcode", "birth_year"),
            block_on("forename", "dob"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _external_settings() -> Any:
    """Splink's defaults for data of unknown shape: names, date of birth and first address line (an external
    drop may hold no usable postcode or NHS number)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("forename"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.JaroWinklerAtThresholds("address_line1", [0.9, 0.7]),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("nhs_number"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("dob"),
            block_on("forename", "surname"),
            block_on("surname", "address_line1"),
            block_on("forename", "address_line1"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def run_splink(people_parquet: Path, out_dir: Path, profile: str = "county") -> dict[str, Any]:
    """Train, predict and cluster with Splink 5 on DuckDB; write ``clusters.parquet``.

    Runs inside the measured child process (:mod:`bench.worker` ``splink``).

    Args:
        people_parquet: the canonical people table.
        out_dir: where to write ``clusters.parquet`` (``source``, ``record_id``, ``cluster``).
        profile: ``county`` (the generated counties' fields) or ``external`` (names, DOB and address line only;
            λ from forename + surname + dob, EM on dob and on surname).
    """
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    secs: dict[str, float] = {}
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"""
        create table people as
        select source || ':' || cast(record_id as varchar) as unique_id,
               source, cast(record_id as varchar) as record_id,
               nullif(lower(trim(forename)), '') as forename,
               nullif(lower(trim(surname)), '') as surname,
               dob, year(dob) as birth_year,
               nullif(upper(trim(postcode)), '') as postcode,
               nullif(lower(trim(address_line1)), '') as address_line1,
               nullif(nhs_number, '') as nhs_number,
               case when sex in ('M', 'F') then sex end as sex
        from read_parquet('{people_parquet}')
    """)
    db_api = DuckDBAPI(connection=con)
    people = db_api.register("people")
    external = profile == "external"
    linker = Linker(people, _external_settings() if external else _settings(), log_level=logging.WARNING)
    secs["load"] = time.perf_counter() - t

    t = time.perf_counter()
    deterministic: list[Any] = [block_on("forename", "surname", "dob")] if external else [
        block_on("nhs_number"), block_on("dob", "surname")]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname") if external else block_on("postcode"))
    secs["train"] = time.perf_counter() - t

    t = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)
    secs["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=MATCH_THRESHOLD)
    out_dir.mkdir(parents=True, exist_ok=True)
    rel = clusters.as_duckdbpyrelation()
    frame = pl.from_arrow(rel.select("unique_id, cluster_id").arrow())
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(
        pl.col("unique_id").str.split_exact(":", 1).struct.rename_fields(["source", "record_id"])
    ).unnest("unique_id").rename({"cluster_id": "cluster"})
    frame.write_parquet(out_dir / "clusters.parquet")
    secs["cluster"] = time.perf_counter() - t
    n_pred = con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0]
    return {"seconds": {k: round(v, 3) for k, v in secs.items()},
            "predicted_pairs_over_threshold": int(n_pred[0]),
            "records": frame.height, "clusters": frame["cluster"].n_unique()}


def _ingested_night(county: County, config: Path | None, code: Path | None) -> Path:
    """Night 1's folder with ``landing/people.parquet``, from the benchmark's first run or made now."""
    night = RAW / f"{county.households}-{county.seed}" / "run0" / county.night(1).isoformat()
    if (night / "landing" / "people.parquet").exists():
        return night
    out = RAW / f"{county.households}-{county.seed}" / "ingest"
    night = out / county.night(1).isoformat()
    if (night / "landing" / "people.parquet").exists():
        return night
    base = ["--landing", str(county.landing), "--output", str(out), "--date", county.night(1).isoformat()]
    base += ["--config", str(config)] if config else []
    names = run_worker(["stages", *base], code).payload.get("stages", [])
    for name in names:
        if name == "wait" or name.startswith("ingest_") or name == "combine":
            m = run_worker(["stage", name, *base], code)
            if m.payload.get("status") != "ok":
                raise RuntimeError(f"ingest stage {name} failed: {m.payload.get('error') or m.stderr_tail}")
    return night


def compare(households: int, seed: int, config: Path | None = None, code: Path | None = None) -> dict[str, Any]:
    """Link one county with this project and with Splink, back to back, and score both.

    Args:
        households: county size.
        seed: generator seed.
        config: configuration folder (default: the project's).
        code: checkout to benchmark (default: this tree).
    """
    county, _ = ensure_county(households, seed)
    source_night = _ingested_night(county, config, code)
    people_parquet = source_night / "landing" / "people.parquet"
    records = pl.read_parquet(people_parquet, columns=["source", "record_id"])
    truth = county.truth(1)
    work = RAW / f"{households}-{seed}" / "compare"
    shutil.rmtree(work, ignore_errors=True)

    # this project: stage_link on a copy of the ingested night, fresh state database
    proj_out = work / "project"
    proj_night = proj_out / county.night(1).isoformat()
    shutil.copytree(source_night / "landing", proj_night / "landing")
    base = ["--landing", str(county.landing), "--output", str(proj_out), "--date", county.night(1).isoformat()]
    base += ["--config", str(config)] if config else []
    proj = run_worker(["stage", "link", *base], code)
    project: dict[str, Any] = {"status": proj.payload.get("status"), "error": proj.payload.get("error", "")[:500],
                               "wall_s": proj.payload.get("wall_s"), "process_wall_s": proj.wall_s,
                               "cpu_s": proj.cpu_s, "peak_rss_mb": proj.peak_rss_mb,
                               "counts": {k: v for k, v in (proj.payload.get("counts") or {}).items()
                                          if k in ("records", "persons", "pairs_scored", "links", "stage_seconds")}}
    links_csv = proj_night / "person_links.csv"
    if links_csv.exists():
        pred = pl.read_csv(links_csv, schema_overrides={"record_id": pl.Utf8}).rename({"person_id": "cluster"})
        project["quality"] = pairwise_scores(pred, truth, records)

    # Splink 5 on DuckDB
    sp_out = work / "splink"
    sp = run_worker(["splink", "--people", str(people_parquet), "--output", str(sp_out)], code)
    splink: dict[str, Any] = {"status": "ok" if sp.returncode == 0 else "error", "error": sp.stderr_tail[-800:],
                              "process_wall_s": sp.wall_s, "cpu_s": sp.cpu_s, "peak_rss_mb": sp.peak_rss_mb,
                              **sp.payload}
    secs = sp.payload.get("seconds") or {}
    if secs:
        splink["inference_wall_s"] = round(secs.get("load", 0) + secs.get("predict", 0) + secs.get("cluster", 0), 3)
        splink["total_wall_s"] = round(sum(secs.values()), 3)
    if (sp_out / "clusters.parquet").exists():
        splink["quality"] = pairwise_scores(pl.read_parquet(sp_out / "clusters.parquet"), truth, records)

    out: dict[str, Any] = {"households": households, "seed": seed, "records": records.height,
                           "project": project, "splink": splink}
    if project.get("wall_s") and splink.get("inference_wall_s"):
        # throughput = records / second, so the ratio is Splink's time over ours
        out["throughput_ratio_vs_inference"] = round(splink["inference_wall_s"] / project["wall_s"], 2)
        out["throughput_ratio_vs_total"] = round(splink["total_wall_s"] / project["wall_s"], 2)
        out["process_throughput_ratio"] = round(sp.wall_s / proj.wall_s, 2)
    log.info("splink comparison %d households: %s", households,
             {k: v for k, v in out.items() if k.startswith("throughput") or k.startswith("process_")})
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the comparison and add it to a results file (and the docs table)."""
    import datetime as dt
    import json

    from rich.console import Console

    from bench.data import RESULTS

    ap = argparse.ArgumentParser(prog="python -m bench.splink_compare")
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--code", type=Path, default=None)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("splink").setLevel(logging.WARNING)
    started = dt.datetime.now()
    result = {"started": started.isoformat(timespec="seconds"), "commit": git_commit(), "sizes": [],
              "splink": [compare(int(h), args.seed, args.config, args.code) for h in args.sizes.split(",") if h]}
    path = RESULTS / f"{started:%Y%m%dT%H%M%S}-splink.json"
    path.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    console = Console(stderr=True)
    console.print(f"results: {path}")
    console.print_json(json.dumps(result["splink"], default=str))
    if not args.no_docs:
        from bench.figures import update_doc

        console.print(f"table regenerated: {update_doc()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
