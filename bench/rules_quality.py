"""Rules quality: per-rule precision/recall of the whole pipeline on generated counties.

Each county is generated (cached in ``bench/results/data/rules-<households>-<seed>/``), run end to end
(`safelink.pipeline.run_night`, as ``safelink run`` does) into a fresh output folder, and scored with
:func:`evaluation.scoring.score_run` (as ``safelink score`` does). Prints a markdown table (one row per
county, then the pooled figures) and writes ``bench/results/rules_quality.json``.

Usage::

    python -m bench.rules_quality                      # 5k seeds 21-27, 20k seeds 31-33
    python -m bench.rules_quality --county 5000:21 --county 20000:31
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.data import DATA, FIRST_NIGHT, RESULTS
from evaluation.scoring import RULES, score_run
from ground.settings import DEFAULT_CONFIG_DIR
from safelink.pipeline import Night, run_night
from synth import generate_county

DEFAULT_COUNTIES = (*((5000, s) for s in range(21, 28)), *((20000, s) for s in range(31, 34)))
TARGET_PRECISION = 0.98
TARGET_RECALL = 0.97


def county_scores(households: int, seed: int, config_dir: Path) -> dict[str, Any]:
    """Generate (or reuse) one county, run the night and score it.

    Args:
        households: households in the county.
        seed: generator seed.
        config_dir: configuration folder.
    """
    folder = DATA / f"rules-{households}-{seed}"
    if not (folder / "landing" / FIRST_NIGHT.isoformat() / "_SUCCESS").exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate_county(folder, FIRST_NIGHT, households, seed)
    with tempfile.TemporaryDirectory(prefix="rules-quality-") as out:
        night = Night(landing=folder / "landing", output=Path(out), extract_date=FIRST_NIGHT, config_dir=config_dir)
        run_night(night)
        return score_run(folder / "truth" / FIRST_NIGHT.isoformat(), night.night_dir)


def pooled(per_county: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per rule: precision and recall over all counties' findings together.

    Args:
        per_county: :func:`county_scores` results.
    """
    out: dict[str, dict[str, float]] = {}
    for rule in RULES:
        rows = [c["rules"][rule] for c in per_county]
        run = sum(r["run"] for r in rows)
        truth = sum(r["truth"] for r in rows)
        hits_run = sum(round(r["precision"] * r["run"]) for r in rows)
        hits_truth = sum(r["true_positive"] for r in rows)
        out[rule] = {"run": run, "truth": truth, "precision": round(hits_run / run, 4) if run else 1.0,
                     "recall": round(hits_truth / truth, 4) if truth else 1.0}
    return out


def markdown(per_county: list[tuple[str, dict[str, Any]]], total: dict[str, dict[str, float]]) -> str:
    """The table docs/rules.md quotes: P / R (findings in the truth) per rule, and linkage pairs.

    Args:
        per_county: ``(label, scores)`` per county.
        total: :func:`pooled`.
    """
    head = "| county | " + " | ".join(RULES) + " | linkage pairs |"
    lines = [head, "|" + "---|" * (len(RULES) + 2)]

    def cell(r: dict[str, Any]) -> str:
        ok = r["precision"] >= TARGET_PRECISION and r["recall"] >= TARGET_RECALL
        text = f"{r['precision']:.3f} / {r['recall']:.3f} ({r['truth']})"
        return text if ok else f"**{text}**"

    for label, s in per_county:
        link = s["linkage"]
        lines.append(f"| {label} | " + " | ".join(cell(s["rules"][rule]) for rule in RULES)
                     + f" | {link['precision']:.4f} / {link['recall']:.4f} |")
    lines.append("| pooled | " + " | ".join(cell(total[rule]) for rule in RULES) + " | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--county", action="append", default=[], metavar="HOUSEHOLDS:SEED",
                        help="a county to measure (repeatable); default: 5000:21..27 and 20000:31..33")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    counties = [tuple(int(x) for x in c.split(":")) for c in args.county] or list(DEFAULT_COUNTIES)
    results: list[tuple[str, dict[str, Any]]] = []
    for households, seed in counties:
        label = f"{households / 1000:g}k, seed {seed}"
        results.append((label, county_scores(households, seed, args.config)))
        sys.stderr.write(f"{label}: done\n")
    total = pooled([s for _, s in results])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rules_quality.json").write_text(json.dumps(
        {"counties": {label: s for label, s in results}, "pooled": total}, indent=2))
    sys.stdout.write(markdown(results, total) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
