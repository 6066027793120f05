"""Clerical review decisions (force_link / force_split) steer the next night's clustering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from linkage.model import FSModel, score
from linkage.pipeline import cluster_scored, load_config, standardise_block_compare

CONFIG = Path(__file__).resolve().parents[1] / "config"

PEOPLE = pl.DataFrame(
    {
        "source": ["hv", "gp", "hv", "dental"],
        "record_id": ["1", "10", "2", "P7"],
        "forename": ["Jack", "Jack", "Amy", "Amelia"],
        "surname": ["Smith", "Smith", "Jones", "Brown"],
        "dob": [dt.date(2020, 1, 2), dt.date(2020, 1, 2), dt.date(2019, 5, 6), dt.date(2018, 7, 8)],
        "postcode": ["CH1 4BJ", "CH1 4BJ", "CW1 2AB", "CH66 1AA"],
        "address_line1": ["1 Oak Road", "1 Oak Road", "2 Elm Way", "9 Ash Lane"],
        "sex": ["M", "M", "F", None],
    },
    schema_overrides={"dob": pl.Date},
)


def _cluster(overrides: pl.DataFrame | None) -> dict[str, int]:
    config = load_config(CONFIG)
    model = FSModel.load(CONFIG / "linkage_model.json")
    sc = standardise_block_compare(PEOPLE, config, CONFIG)
    scored = score(sc.pairs, sc.records, model)
    records, _, _ = cluster_scored(sc.records, scored, model, config, overrides)
    return dict(zip(records["source"] + "/" + records["record_id"], records["cluster"], strict=True))


def test_without_overrides() -> None:
    c = _cluster(None)
    assert c["hv/1"] == c["gp/10"]
    assert c["hv/2"] != c["dental/P7"]


def test_force_split_and_force_link() -> None:
    overrides = pl.DataFrame(
        {
            "source_l": ["gp", "hv"], "record_id_l": ["10", "2"],
            "source_r": ["hv", "dental"], "record_id_r": ["1", "P7"],
            "decision": ["force_split", "force_link"],
        }
    )
    c = _cluster(overrides)
    assert c["hv/1"] != c["gp/10"]
    assert c["hv/2"] == c["dental/P7"]
