"""Incremental nights and scoring shards through ``safelink run`` (issue #18):
``python -m bench.incremental [--households 20000] [--seed 11] [--shards 1]``.

On one deployment (one output folder, one state database), each run a fresh ``safelink run`` process:

1. night 1 as the deployment's first night (fits its model; not measured);
2. **full**: night 1 again with the deployment's memo and comparison cache removed (every source ingested and
   gated, every candidate pair compared);
3. **unchanged**: night 1's drop again as the next night (a copy under a later date): every file byte for byte
   the same, so ingest, the gate's suites and every comparison can be reused;
4. **changed**: the generator's night 2 as the night after (its records new or changed since night 1 as the
   generator makes them, measured and reported);
5. **full (night 2)**: the same drop again with the memo and cache removed.

Wall and CPU time and peak RSS per process, the link stage's wall time and its pairs compared and reused go to
``bench/results/incremental-<timestamp>.json``; docs/benchmarks.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.data import RAW, RESULTS, County, ensure_county, git_commit
from ground.memo import memo_dir

log = logging.getLogger("bench.incremental")


def copy_drop(county: County, night: int, day: dt.date, landing: Path) -> Path:
    """Night ``night``'s drop under another extract date (the date in every file name too).

    Args:
        county: the generated county.
        night: which of its nights (1-based).
        day: the new extract date.
        landing: the landing root to put it in.
    """
    src = county.landing / county.night(night).isoformat()
    dst = landing / day.isoformat()
    dst.mkdir(parents=True, exist_ok=True)
    old, new = county.night(night).strftime("%Y%m%d"), day.strftime("%Y%m%d")
    for f in src.iterdir():
        shutil.copyfile(f, dst / f.name.replace(old, new))
    return dst


def measured_run(landing: Path, day: dt.date, output: Path, shards: int) -> dict[str, Any]:
    """One ``safelink run`` in a fresh process: wall, CPU, peak RSS, and the link stage's figures.

    Args:
        landing: the landing root.
        day: the extract date.
        output: the deployment's output folder.
        shards: ``--shards``.
    """
    cmd = [sys.executable, "-m", "safelink.cli", "run", "--landing", str(landing), "--date", day.isoformat(),
           "--output", str(output), "--shards", str(shards)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFELINK_SMTP")}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise RuntimeError(f"safelink run {day} exited {os.waitstatus_to_exitcode(status)}: "
                           f"{proc.stderr.read().decode()[-1500:] if proc.stderr else ''}")
    summary = json.loads((output / day.isoformat() / "run_summary.json").read_text(encoding="utf-8"))
    link = summary["stages"]["link"]
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "link_wall_s": summary["durations_s"]["link"],
            "pairs": link["pairs_scored"], "pairs_compared": link["pairs_compared"],
            "pairs_reused": link["pairs_reused"], "records": link["records"], "shards": link["shards"],
            "link_stage_seconds": link["stage_seconds"], "durations_s": summary["durations_s"],
            "ingest_reused": sorted(k for k, v in summary["stages"].items() if v.get("ingest_reused")),
            "suites_reused": sum(int(v.get("suites_reused", 0)) for v in summary["stages"].values()),
            "suites_run": sum(int(v.get("suites_run", 0)) for v in summary["stages"].values())}


def bench(households: int, seed: int, shards: int) -> dict[str, Any]:
    """Run the five nights above and return their figures.

    Args:
        households: the county's size.
        seed: the generator's seed.
        shards: local scoring processes.
    """
    county, _ = ensure_county(households, seed)
    work = RAW / f"incremental-{households}-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    landing, output = work / "landing", work / "out"
    first = county.night(1)
    copy_drop(county, 1, first, landing)
    unchanged_day, changed_day = first + dt.timedelta(days=2), first + dt.timedelta(days=3)
    copy_drop(county, 1, unchanged_day, landing)
    copy_drop(county, 2, changed_day, landing)
    kept = (output / "linkage_cache", memo_dir(output))
    runs: dict[str, Any] = {}
    runs["first_night"] = measured_run(landing, first, output, shards)
    for folder in kept:
        shutil.rmtree(folder)
    runs["full"] = measured_run(landing, first, output, shards)
    runs["unchanged"] = measured_run(landing, unchanged_day, output, shards)
    runs["changed"] = measured_run(landing, changed_day, output, shards)
    for folder in kept:
        shutil.rmtree(folder)
    runs["full_night2"] = measured_run(landing, changed_day, output, shards)
    for name, full in (("unchanged", "full"), ("changed", "full_night2")):
        r = runs[name]
        r["night_share_of_full"] = round(r["wall_s"] / runs[full]["wall_s"], 3)
        r["cpu_share_of_full"] = round(r["cpu_s"] / runs[full]["cpu_s"], 3)
        r["link_share_of_full"] = round(r["link_wall_s"] / runs[full]["link_wall_s"], 3)
        r["pairs_compared_share"] = round(r["pairs_compared"] / max(r["pairs"], 1), 4)
    return {"households": households, "seed": seed, "shards": shards, "commit": git_commit(),
            "cpus": os.cpu_count(), "runs": runs}


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = bench(args.households, args.seed, args.shards)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"incremental-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, r in result["runs"].items():
        log.info("%-12s night %6.1fs  cpu %6.1fs  link %6.1fs  compared %7d of %7d  rss %5d MB  ingest reused %d, "
                 "suites reused %d of %d", name, r["wall_s"], r["cpu_s"], r["link_wall_s"], r["pairs_compared"],
                 r["pairs"], r["peak_rss_mb"], len(r["ingest_reused"]), r["suites_reused"],
                 r["suites_reused"] + r["suites_run"])
    log.info("written %s", path)


if __name__ == "__main__":
    main()
