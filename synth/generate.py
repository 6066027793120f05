"""Entry point: generate a synthetic county's nightly drops with their ground truth."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synth.drop import DropWriter
from synth.population import Population
from synth.sources import SourceBuilder

#: Changes when the same seed starts giving a different county (caches of generated counties compare it).
GENERATOR_VERSION = "2-geography"


@dataclass
class NightResult:
    """Paths and counts of one generated night."""

    extract_date: dt.date
    landing_dir: Path
    truth_dir: Path
    counts: dict[str, Any]

    @property
    def file_rows(self) -> dict[str, int]:
        """Data rows written per landing file."""
        return {k: v["rows"] for k, v in self.counts["files"].items()}


@dataclass
class GenerationResult:
    """What :func:`generate_county` wrote."""

    out_dir: Path
    households: int
    people: int
    seed: int
    nights: list[NightResult] = field(default_factory=list)

    @property
    def landing_dir(self) -> Path:
        """The first night's landing folder."""
        return self.nights[0].landing_dir

    @property
    def truth_dir(self) -> Path:
        """The first night's truth folder."""
        return self.nights[0].truth_dir

    @property
    def counts(self) -> dict[str, Any]:
        """The first night's counts (as in its ``counts.json``)."""
        return self.nights[0].counts


def generate_county(out_dir: Path, extract_date: dt.date, households: int, seed: int,
                    nights: int = 1) -> GenerationResult:
    """Generate a synthetic county and write its nightly drops and truth.

    Writes ``out_dir/landing/<YYYY-MM-DD>/<FILE>_<YYYYMMDD>.csv`` (18 files and ``_SUCCESS``) and
    ``out_dir/truth/<YYYY-MM-DD>/`` (persons, related, findings, broken_rows, households, people,
    counts.json) for each of ``nights`` consecutive extract dates. The same seed gives byte-identical files.

    Args:
        out_dir: output folder (created if needed).
        extract_date: extract date of the first night.
        households: number of households in the county.
        seed: random seed.
        nights: number of consecutive nightly drops.

    Returns:
        A :class:`GenerationResult` with paths and per-night counts.
    """
    if nights < 1:
        raise ValueError("nights must be >= 1")
    out_dir = Path(out_dir)
    horizon = extract_date + dt.timedelta(days=nights - 1)
    pop = Population(households, seed, extract_date, horizon)
    sb = SourceBuilder(pop, seed)
    sb.build()
    writer = DropWriter(pop, sb, seed)
    result = GenerationResult(out_dir, households, len(pop.people), seed)
    for k in range(nights):
        night = extract_date + dt.timedelta(days=k)
        landing = out_dir / "landing" / night.isoformat()
        truth = out_dir / "truth" / night.isoformat()
        counts = writer.write_night(night, landing, truth)
        result.nights.append(NightResult(night, landing, truth, counts))
    return result
