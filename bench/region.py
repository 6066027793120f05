"""A region in one night: ``python -m bench.region [--households 1000000] [--workers 2] [--one-process]``.

The product path twice over one generated county (cached by :func:`bench.data.ensure_county`, one night):

- **as Airflow runs it** (``--workers``): every task in its own fresh process, the way a worker runs a
  task (ingest per source, combine, ``block``, then every ``score_shard`` with at most ``workers`` at a
  time, as that many workers on the ``linkage`` queue would take them, then ``cluster``, detect, send,
  report, then ``publish``: the summary and completion marker). Each task's wall time, CPU time and peak RSS
  are recorded; the night's wall time is the sum
  of the sequential tasks plus the scoring phase as it ran.
- **in one process** (``--one-process``): ``run_night`` with one scoring process, as ``safelink run``
  does by default.

Results go to ``bench/results/region-<households>-<timestamp>.json``; docs/scaling.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.data import RESULTS, County, ensure_county
from bench.measure import Measured, run_worker


def _args(county: County, output: Path, mode: str, name: str = "", processes: int | None = None) -> list[str]:
    args = [mode] + ([name] if name else [])
    args += ["--landing", str(county.landing), "--output", str(output), "--date", county.night(1).isoformat()]
    return args + (["--processes", str(processes)] if processes else [])


def _task(county: County, output: Path, name: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    m = run_worker([*_args(county, output, "stage", name), *extra], timeout_s=4 * 3600)
    payload = m.payload
    if m.returncode or payload.get("status") != "ok":
        raise RuntimeError(f"task {name} failed: {payload.get('error') or m.stderr_tail[-600:]}")
    done = {"task": name, "wall_s": m.wall_s, "cpu_s": m.cpu_s, "peak_rss_mb": m.peak_rss_mb,
            "load": round(os.getloadavg()[0], 1), "counts": payload.get("counts", {})}
    with (output.parent / f"{output.name}-tasks.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(done) + "\n")  # a long run leaves its figures task by task
    return done


def as_airflow(county: County, output: Path, workers: int) -> dict[str, Any]:
    """Every task in its own process; the scoring shards ``workers`` at a time.

    Args:
        county: the generated county.
        output: a fresh output folder.
        workers: scoring tasks running at once (workers on the ``linkage`` queue).
    """
    first = run_worker(_args(county, output, "stages"))
    names: list[str] = first.payload["stages"]
    before = [n for n in names if n != "link" and names.index(n) < names.index("link")]
    after = [n for n in names if names.index(n) > names.index("link")]
    tasks = [_task(county, output, n) for n in [*before, "block"]]
    shards = tasks[-1]["counts"]["shards"]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        scored = list(pool.map(lambda k: _task(county, output, f"score_shard:{k}"), shards))
    scoring_wall = time.perf_counter() - started
    tail = [_task(county, output, n) for n in ["cluster", *after]]
    tail.append(_publish(county, output, tasks, scored, tail))
    sequential = sum(t["wall_s"] for t in [*tasks, *tail])
    return {
        "workers": workers, "shards": len(shards), "pairs": tasks[-1]["counts"]["pairs"],
        "night_wall_s": round(sequential + scoring_wall, 1), "scoring_wall_s": round(scoring_wall, 1),
        "cpu_s": round(sum(t["cpu_s"] for t in [*tasks, *scored, *tail]), 1),
        "max_task_rss_mb": max(t["peak_rss_mb"] for t in [*tasks, *scored, *tail]),
        "max_scoring_rss_mb": max((t["peak_rss_mb"] for t in scored), default=0.0),
        "tasks": [*tasks, *scored, *tail],
    }


def _publish(county: County, output: Path, tasks: list[dict[str, Any]], scored: list[dict[str, Any]],
             tail: list[dict[str, Any]]) -> dict[str, Any]:
    """The DAG's ``publish`` task: ``run_summary.json`` and the completion marker from every task's counts, the
    scoring shards as one stage ``link_score`` (their summed task time), as the DAG writes them."""
    score = {"task": "link_score", "wall_s": round(sum(t["wall_s"] for t in scored), 3),
             "counts": {"shards": len(scored), "pairs": sum(int(t["counts"]["pairs"]) for t in scored)}}
    flat = [*tasks, score, *tail]
    done = output.parent / f"{output.name}-stages.json"
    done.write_text(json.dumps({"stages": {t["task"]: t["counts"] for t in flat},
                                "durations_s": {t["task"]: t["wall_s"] for t in flat}}), encoding="utf-8")
    return _task(county, output, "publish", ("--stages-file", str(done)))


def one_process(county: County, output: Path) -> dict[str, Any]:
    """``run_night`` in one fresh process with one scoring process.

    Args:
        county: the generated county.
        output: a fresh output folder.
    """
    m: Measured = run_worker(_args(county, output, "full", processes=1), timeout_s=4 * 3600)
    if m.returncode or not m.payload.get("complete"):
        raise RuntimeError(f"one-process night failed: {m.stderr_tail[-600:]}")
    stages = {k: v.get("wall_s") for k, v in m.payload["stages"].items()}
    return {"wall_s": m.wall_s, "cpu_s": m.cpu_s, "peak_rss_mb": m.peak_rss_mb, "stage_wall_s": stages}


def _fresh(output: Path, model: Path | None) -> Path:
    """An empty output folder; with ``model``, that model made active there by the product's own command."""
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    if model:
        safelink = Path(sys.executable).with_name("safelink")
        subprocess.run([str(safelink), "activate-model", str(model), "--output", str(output)], check=True,
                       stdout=subprocess.DEVNULL)
    return output


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2, help="scoring tasks at once (0: skip the task-by-task run)")
    ap.add_argument("--one-process", action="store_true", help="also run the night in one process")
    ap.add_argument("--work", type=Path, default=Path("bench/.region"))
    ap.add_argument("--model", type=Path, default=None,
                    help="a model JSON made active first (`safelink activate-model`): a deployment past its first "
                         "night, whose shards compare as well as score")
    args = ap.parse_args(argv)
    county, gen_s = ensure_county(args.households, args.seed, nights=1)
    people = json.loads((county.folder / "_generated.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = {"households": args.households, "seed": args.seed, "records": people.get("people"),
                              "generation_s": gen_s or people.get("seconds"), "cpus": os.cpu_count(),
                              "load_at_start": os.getloadavg()[0]}
    result["model"] = str(args.model) if args.model else "fitted on the first night"
    if args.workers:
        out = _fresh(args.work / "airflow", args.model)
        result["as_airflow"] = as_airflow(county, out, args.workers)
    if args.one_process:
        out = _fresh(args.work / "one", args.model)
        result["one_process"] = one_process(county, out)
    result["load_at_end"] = os.getloadavg()[0]
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"region-{args.households}-{stamp}.json"
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "as_airflow"} | {  # noqa: T201
        "as_airflow": {k: v for k, v in result.get("as_airflow", {}).items() if k != "tasks"}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
