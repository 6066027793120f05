"""Benchmark the nightly job: ``python -m bench.run [--sizes 1000,10000,100000] [--repeats 3] [--splink]``.

For each county size (households) it generates a county once (cached under
``bench/results/data/``), then per repeat, each in fresh processes:

1. the whole nightly job for night 1 (``run_night`` in one process: end-to-end figures),
2. night 2 into the same output folder and state database (the incremental night),
3. every stage of night 1 in its own process (per-stage wall, CPU and peak RSS).

Medians over the repeats go to ``bench/results/<timestamp>.json``; the tables between the markers
in ``docs/benchmarks.md`` are regenerated from the newest result for every size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from bench.data import RAW, RESULTS, County, ensure_county, git_commit
from bench.measure import Measured, run_worker
from bench.stats import scaling, summarise

log = logging.getLogger("bench.run")


def _worker_args(mode: str, county: County, output: Path, night: int, config: Path | None, name: str = "") -> list[str]:
    args = [mode] + ([name] if name else [])
    args += ["--landing", str(county.landing), "--output", str(output), "--date", county.night(night).isoformat()]
    return args + (["--config", str(config)] if config else [])


def _pairs_facts(full: Measured, night_dir: Path) -> dict[str, Any]:
    link = (full.payload.get("stages") or {}).get("link") or {}
    counts = link.get("counts") or {}
    facts: dict[str, Any] = {"pairs_scored": counts.get("pairs_scored"), "pairs_by_pass": counts.get("pairs_by_pass"),
                             "links": counts.get("links"), "review_pairs": counts.get("review_pairs"),
                             "records": counts.get("records"), "persons": counts.get("persons"),
                             "link_stage_seconds": counts.get("stage_seconds")}
    pairs_path = night_dir / "linkage" / "pairs.parquet"
    if pairs_path.exists():
        import polars as pl

        facts["pairs_parquet_rows"] = pl.scan_parquet(pairs_path).select(pl.len()).collect().item()
    return facts


def _full_summary(m: Measured) -> dict[str, Any]:
    p = m.payload
    return {"process": {k: getattr(m, k) for k in ("wall_s", "cpu_s", "peak_rss_mb", "returncode")},
            "job_wall_s": p.get("wall_s"), "mode": p.get("mode"), "complete": p.get("complete"),
            "stages": {n: {"status": s.get("status"), "wall_s": s.get("wall_s") if s.get("status") == "ok" else None,
                           **({"error": s["error"]} if s.get("error") else {})}
                       for n, s in (p.get("stages") or {}).items()},
            "error": m.stderr_tail[-800:] if m.returncode else ""}


def bench_size(households: int, seed: int, repeats: int, config: Path | None, code: Path | None,
               modes: set[str], keep: bool) -> dict[str, Any]:
    """Benchmark one county size.

    Args:
        households: county size.
        seed: generator seed.
        repeats: runs per measurement (median quoted).
        config: configuration folder (default: the project's).
        code: checkout to benchmark (default: this tree).
        modes: any of ``full``, ``incremental``, ``stages``.
        keep: keep run output folders (the first run's is always kept for the Splink comparison).
    """
    county, gen_s = ensure_county(households, seed)
    log.info("county %s ready (%s)", county.folder, "cached" if gen_s is None else f"generated in {gen_s}s")
    names = run_worker(["stages", "--landing", str(county.landing), "--output", str(RAW / "probe"),
                        "--date", county.night(1).isoformat()] + (["--config", str(config)] if config else []),
                       code).payload.get("stages", [])
    runs: list[dict[str, Any]] = []
    stage_runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(repeats):
        run: dict[str, Any] = {"repeat": r}
        out = RAW / f"{households}-{seed}" / f"run{r}"
        shutil.rmtree(out, ignore_errors=True)
        if modes & {"full", "incremental"}:
            full = run_worker(_worker_args("full", county, out, 1, config), code)
            run["full"] = _full_summary(full)
            run["pairs"] = _pairs_facts(full, out / county.night(1).isoformat())
            log.info("%d households run %d: night 1 %.1fs, %.0f MB", households, r, full.wall_s, full.peak_rss_mb)
            if "incremental" in modes:
                inc = run_worker(_worker_args("full", county, out, 2, config), code)
                run["incremental"] = _full_summary(inc)
                log.info("%d households run %d: night 2 %.1fs", households, r, inc.wall_s)
        if "stages" in modes:
            sout = RAW / f"{households}-{seed}" / f"stages{r}"
            shutil.rmtree(sout, ignore_errors=True)
            for name in names:
                m = run_worker(_worker_args("stage", county, sout, 1, config, name), code)
                rec = {"process_wall_s": m.wall_s, "process_cpu_s": m.cpu_s, "peak_rss_mb": m.peak_rss_mb,
                       "returncode": m.returncode, "status": m.payload.get("status", "crashed"),
                       "wall_s": m.payload.get("wall_s"), "cpu_s": m.payload.get("cpu_s"),
                       "error": (m.payload.get("error") or m.stderr_tail)[-600:]}
                stage_runs[name].append(rec)
            if not keep:
                shutil.rmtree(sout, ignore_errors=True)
        if r > 0 and not keep:
            shutil.rmtree(out, ignore_errors=True)
        runs.append(run)
    return {"households": households, "seed": seed, "repeats": repeats, "generated_s": gen_s,
            "stage_names": names, "summary": summarise(runs, stage_runs), "runs": runs, "stage_runs": stage_runs}


def _machine() -> dict[str, Any]:
    import os
    import platform

    import psutil

    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="households per county, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is quoted")
    ap.add_argument("--repeats-large", type=int, default=1,
                    help="runs for sizes of 50,000 households and more (each is minutes of a shared machine)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--modes", default="full,incremental,stages")
    ap.add_argument("--splink", action="store_true", help="also compare linkage with Splink 5 (sizes >= 10,000)")
    ap.add_argument("--splink-sizes", default="", help="sizes for the Splink comparison (default: sizes >= 10,000)")
    ap.add_argument("--config", type=Path, default=None, help="configuration folder (default: the project's)")
    ap.add_argument("--code", type=Path, default=None, help="checkout to benchmark (default: this tree)")
    ap.add_argument("--keep", action="store_true", help="keep every run's output folder")
    ap.add_argument("--no-docs", action="store_true", help="do not regenerate docs/benchmarks.md")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.logging import RichHandler

    console = Console(stderr=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=console)])
    for noisy in ("safelink", "landing", "linkage", "alerts", "report", "checks", "splink"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    started = dt.datetime.now()
    if args.splink and importlib.util.find_spec("splink") is None:
        console.print("[red]--splink needs Splink: pip install -e '.\\[bench]' (make bench does)[/red]")
        return 2
    result: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "commit": git_commit(),
                              "code": str(args.code or ""), "machine": _machine(), "sizes": []}
    for households in sizes:
        repeats = args.repeats_large if households >= 50_000 else args.repeats
        log.info("benchmarking %d households x %d", households, repeats)
        result["sizes"].append(bench_size(households, args.seed, repeats, args.config, args.code, modes, args.keep))
    result["scaling"] = scaling(result["sizes"])
    if args.splink:
        from bench.splink_compare import compare

        wanted = [int(s) for s in args.splink_sizes.split(",") if s.strip()] or [s for s in sizes if s >= 10_000]
        result["splink"] = [compare(h, args.seed, args.config, args.code) for h in wanted]
    result["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started:%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    console.print(f"results: {path}")
    if not args.no_docs:
        from bench.figures import update_doc

        doc = update_doc()
        console.print(f"table regenerated: {doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
