"""Generated counties for the benchmarks, cached in ``bench/results/data/<households>-<seed>/``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA = RESULTS / "data"
RAW = RESULTS / "raw"
FIRST_NIGHT = dt.date(2026, 11, 25)
NIGHTS = 2  # night 1 is the full run; night 2 is the incremental night


@dataclass(frozen=True)
class County:
    """A cached generated county: two consecutive nightly drops and their truth."""

    households: int
    seed: int
    folder: Path

    @property
    def landing(self) -> Path:
        """``<folder>/landing`` (one sub-folder per extract date)."""
        return self.folder / "landing"

    def night(self, k: int) -> dt.date:
        """Extract date of night ``k`` (1-based)."""
        return FIRST_NIGHT + dt.timedelta(days=k - 1)

    def truth(self, k: int = 1) -> Path:
        """``truth/<date>/persons.csv`` of night ``k``."""
        return self.folder / "truth" / self.night(k).isoformat() / "persons.csv"


def ensure_county(households: int, seed: int, nights: int = NIGHTS) -> tuple[County, float | None]:
    """Generate the county unless it is cached; return it and the generation time (None if cached).

    Args:
        households: households in the county.
        seed: generator seed.
        nights: consecutive nightly drops wanted (a cached county with at least this many serves).
    """
    folder = DATA / f"{households}-{seed}"
    county = County(households, seed, folder)
    marker = folder / "_generated.json"
    from synth import GENERATOR_VERSION, generate_county

    if marker.exists():
        cached = json.loads(marker.read_text(encoding="utf-8"))
        if cached.get("generator") == GENERATOR_VERSION and int(cached.get("nights", NIGHTS)) >= nights:
            return county, None

    started = time.perf_counter()
    result = generate_county(folder, FIRST_NIGHT, households, seed, nights)
    secs = round(time.perf_counter() - started, 2)
    marker.write_text(json.dumps({"households": households, "seed": seed, "nights": nights, "people": result.people,
                                  "generator": GENERATOR_VERSION,
                                  "seconds": secs}), encoding="utf-8")
    return county, secs


def git_commit() -> str:
    """The checked-out commit (short), ``+dirty`` when tracked files changed; ``unknown`` without git."""

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
