"""Medians over benchmark repeats and growth between county sizes (pure functions over result dicts)."""

from __future__ import annotations

import itertools
import statistics
from typing import Any


def median(values: list[float | None]) -> float | None:
    """The median of the present values, rounded to 3 places (None when none is present).

    Args:
        values: one figure per repeat.
    """
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def summarise(runs: list[dict[str, Any]], stage_runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the repeats.

    Args:
        runs: per-repeat full and incremental results.
        stage_runs: per-stage results per repeat.
    """
    out: dict[str, Any] = {}
    for key in ("full", "incremental"):
        got = [r[key] for r in runs if key in r]
        if not got:
            continue
        stage_walls: dict[str, float | None] = {}
        for name in got[0]["stages"]:
            stage_walls[name] = median([g["stages"].get(name, {}).get("wall_s") for g in got])
        out[key] = {
            "wall_s": median([g["process"]["wall_s"] for g in got]),
            "cpu_s": median([g["process"]["cpu_s"] for g in got]),
            "peak_rss_mb": median([g["process"]["peak_rss_mb"] for g in got]),
            "job_wall_s": median([g["job_wall_s"] for g in got]),
            "complete": all(bool(g["complete"]) for g in got),
            "stage_status": {n: s.get("status") for n, s in got[0]["stages"].items()},
            "stage_wall_s": stage_walls,
            "errors": sorted({f"{n}: {s['error']}"[:200] for g in got for n, s in g["stages"].items()
                              if s.get("error")}),
        }
    if runs and "pairs" in runs[0]:
        out["pairs"] = runs[0]["pairs"]
    if "full" in out and "incremental" in out and out["full"]["wall_s"]:
        out["incremental_ratio"] = round(out["incremental"]["wall_s"] / out["full"]["wall_s"], 3)
        link_full = out["full"]["stage_wall_s"].get("link")
        link_inc = out["incremental"]["stage_wall_s"].get("link")
        if link_full and link_inc:
            out["incremental_link_ratio"] = round(link_inc / link_full, 3)
    stages: dict[str, Any] = {}
    for name, recs in stage_runs.items():
        if not recs:
            continue
        ok = [r for r in recs if r["status"] == "ok"]
        stages[name] = {
            "status": "ok" if ok else recs[0]["status"],
            "runs_ok": len(ok),
            "runs": len(recs),
            "wall_s": median([r["wall_s"] for r in recs if r["status"] == "ok"]),
            "cpu_s": median([r["cpu_s"] for r in recs if r["status"] == "ok"]),
            "process_wall_s": median([r["process_wall_s"] for r in recs]),
            "peak_rss_mb": median([r["peak_rss_mb"] for r in recs]),
            "error": next((r["error"][:300] for r in recs if r["status"] != "ok"), ""),
        }
    if stages:
        out["stages"] = stages
    return out


def scaling(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Time growth between consecutive sizes (target: 10x data takes at most 11x time).

    Args:
        sizes: per-size results, any order.
    """
    ordered = sorted(sizes, key=lambda s: s["households"])
    rows = []
    for a, b in itertools.pairwise(ordered):
        fa, fb = a["summary"].get("full", {}), b["summary"].get("full", {})
        row: dict[str, Any] = {"from": a["households"], "to": b["households"],
                               "data_ratio": round(b["households"] / a["households"], 2)}
        for key in ("wall_s", "cpu_s", "job_wall_s"):
            if fa.get(key) and fb.get(key):
                row[f"{key}_ratio"] = round(fb[key] / fa[key], 2)
        la, lb = fa.get("stage_wall_s", {}).get("link"), fb.get("stage_wall_s", {}).get("link")
        if la and lb:
            row["link_wall_ratio"] = round(lb / la, 2)
        pa, pb = a["summary"].get("pairs", {}).get("pairs_scored"), b["summary"].get("pairs", {}).get("pairs_scored")
        if pa and pb:
            row["pairs_ratio"] = round(pb / pa, 2)
        ra, rb = a["summary"].get("pairs", {}).get("records"), b["summary"].get("pairs", {}).get("records")
        if ra and rb:
            row["records_ratio"] = round(rb / ra, 2)
        rows.append(row)
    return rows
