"""Night-to-night stability of person ids on a generated county with two nights.

Usage: ``python -m bench.linkage_stability [--households 5000] [--seed 5]``. Prints JSON: the share of
records present on both nights that keep their person id, and how often two records of one true
person that shared an id on night 1 still share one on night 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import polars as pl

from bench.linkage_common import ROOT, ingest
from linkage import link_night
from synth.generate import generate_county

D1 = dt.date(2026, 11, 25)


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="linkstab_"))
    generate_county(work / "gen", D1, args.households, args.seed, nights=2)
    state = f"sqlite:///{work / 'out' / 'state.sqlite'}"
    results = []
    links = []
    for k in range(2):
        d = D1 + dt.timedelta(days=k)
        night = work / "out" / d.isoformat()
        ingest(work / "gen" / "landing", d, night)
        results.append(link_night(night, ROOT / "config" / "linkage_model.json", state, d, ROOT / "config"))
        lk = pl.read_csv(night / "person_links.csv", schema_overrides={"record_id": pl.Utf8})
        truth = pl.read_csv(work / "gen" / "truth" / d.isoformat() / "persons.csv",
                            schema_overrides={"record_id": pl.Utf8})
        links.append(lk.join(truth, on=["source", "record_id"]))
    both = links[0].join(links[1], on=["source", "record_id"], suffix="_2")
    same_truth = both.filter(pl.col("true_person_id") == pl.col("true_person_id_2"))
    kept = int((same_truth["person_id"] == same_truth["person_id_2"]).sum())
    out = {
        "records_night1": links[0].height, "records_night2": links[1].height,
        "records_on_both_nights": same_truth.height, "kept_person_id": kept,
        "kept_share": round(kept / max(same_truth.height, 1), 5),
        "night2": {"new_persons": results[1].new_persons, "merges": results[1].merges,
                   "splits": results[1].splits},
    }
    sys.stdout.write(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
