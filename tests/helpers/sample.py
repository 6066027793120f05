"""The sample drop copied into the repository, generated drops, and review files as a reviewer edits them."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_LANDING = ROOT / "tests" / "fixtures" / "sample"
SAMPLE_TRUTH = SAMPLE_LANDING / "truth"
SAMPLE_DATE = dt.date(2026, 11, 25)
CONFIG_DIR = ROOT / "config"


def read_review_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a review file (``review_pairs.csv`` or a marked copy)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_review_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write marked review rows (columns as in the first row), as a reviewer's spreadsheet would."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def generated_drop(base: Path, extract_date: dt.date, households: int, seed: int) -> Path:
    """A generated county's drop under ``base``; returns its landing root.

    Args:
        base: a temporary folder.
        extract_date: the night.
        households: the county's size.
        seed: the generator's seed.
    """
    from synth import generate_county

    generate_county(base / "county", extract_date, households, seed)
    return base / "county" / "landing"
