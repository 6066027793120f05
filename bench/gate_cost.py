"""What the data-quality gate costs against the ingest, per source, in one process.

Usage (a generated county first)::

    safelink generate --out /tmp/gate100k --date 2026-11-25 --households 100000 --seed 9
    python -m bench.gate_cost --landing /tmp/gate100k/landing --date 2026-11-25 --out /tmp/gate100k/out

For each source, in the order of ``config/sources.yaml``: ``landing.ingest.ingest_source`` then
``checks.gate.validate_source``, timed with ``time.perf_counter`` (``--repeat N``: N times each, the
fastest kept, for a shared machine). Importing Great Expectations, and building the GX context the
gate keeps for the process where the code has one, is timed apart (once per process, before the
loop), so the per-source figures are what each further source costs. ``--profile SOURCE`` writes a
cProfile of that source's gate (``--profile-out``).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def measure(landing: Path, extract_date: dt.date, out: Path, config_dir: Path, profile: str | None = None,
            profile_out: Path | None = None, repeat: int = 1) -> dict[str, Any]:
    """Ingest and gate every source of one night; return the timings.

    Args:
        landing: the landing root (``<landing>/<YYYY-MM-DD>/`` holds the drop).
        extract_date: the night.
        out: the output root (the night folder is ``<out>/<YYYY-MM-DD>``).
        config_dir: the folder holding ``sources.yaml`` and ``checks.yaml``.
        profile: a source whose gate to profile with cProfile, or None.
        profile_out: where to write the profile (default ``<out>/gate-<source>.prof``).
        repeat: ingest and gate each source this many times; the fastest of each is kept (the machine
            may be shared).
    """
    started = time.perf_counter()
    from ground.sources import load_sources
    from landing.ingest import ingest_source
    base_import = time.perf_counter() - started

    started = time.perf_counter()
    import great_expectations  # noqa: F401  (timed apart: paid once per process)

    import checks.expectations
    import checks.gate
    from checks.gate import validate_source
    if hasattr(checks.gate, "_runner"):  # the GX context the gate keeps for the whole process
        checks.gate._runner()
    gx_import = time.perf_counter() - started

    config = load_sources(config_dir / "sources.yaml")
    night = out / extract_date.isoformat()
    rows: list[dict[str, Any]] = []
    for source in config.sources:
        ingest_times, gate_times = [], []
        for attempt in range(repeat):  # ingest then gate, again from scratch: keep each one's fastest
            t0 = time.perf_counter()
            result = ingest_source(landing, extract_date, config, source, night)
            t1 = time.perf_counter()
            profiling = profile == source and attempt == 0
            if profiling:
                profiler = cProfile.Profile()
                profiler.enable()
            gate = validate_source(night, source, config_dir, extract_date)
            t2 = time.perf_counter()
            if profiling:
                profiler.disable()
                profiler.dump_stats(str(profile_out or out / f"gate-{source}.prof"))
            ingest_times.append(t1 - t0)
            gate_times.append(t2 - t1)
        rows.append({"source": source, "rows_read": sum(f.rows_read for f in result.files),
                     "ingest_s": round(min(ingest_times), 3), "gate_s": round(min(gate_times), 3),
                     "gate": gate.status, "set_aside_by_checks": gate.set_aside_by_checks,
                     "warnings": len(gate.warnings)})
    ingest = sum(r["ingest_s"] for r in rows)
    gate_total = sum(r["gate_s"] for r in rows)
    return {"extract_date": extract_date.isoformat(), "base_import_s": round(base_import, 3),
            "gx_import_s": round(gx_import, 3), "sources": rows, "rows_read": sum(r["rows_read"] for r in rows),
            "ingest_s": round(ingest, 3), "gate_s": round(gate_total, 3),
            "ratio": round(gate_total / ingest, 3) if ingest else None}


def as_table(report: dict[str, Any]) -> str:
    """A Markdown table of one measurement."""
    lines = ["| source | rows read | ingest (s) | gate (s) | gate / ingest | gate status |",
             "|---|---|---|---|---|---|"]
    for r in report["sources"]:
        ratio = r["gate_s"] / r["ingest_s"] if r["ingest_s"] else float("nan")
        lines.append(f"| {r['source']} | {r['rows_read']:,} | {r['ingest_s']:.2f} | {r['gate_s']:.2f} | "
                     f"{ratio:.2f} | {r['gate']} |")
    lines.append(f"| **all** | {report['rows_read']:,} | {report['ingest_s']:.2f} | {report['gate_s']:.2f} | "
                 f"{report['ratio']:.2f} | |")
    lines.append("")
    lines.append(f"GX import and context (once per process, not counted above): {report['gx_import_s']:.2f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--date", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True, help="output root (the night folder goes under it)")
    parser.add_argument("--config", type=Path, default=ROOT / "config")
    parser.add_argument("--profile", help="profile this source's gate with cProfile")
    parser.add_argument("--profile-out", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="runs per source; the fastest is kept")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    report = measure(args.landing, args.date, args.out, args.config, args.profile, args.profile_out, args.repeat)
    sys.stdout.write(as_table(report) + "\n")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
