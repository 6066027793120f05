"""Drift's level counts add up over the parts of a night (the scoring shards) to the figures of the whole."""

from __future__ import annotations

import polars as pl

from linkage.drift import add_level_counts, level_counts, night_profile, profile_of_counts


def _pairs(nhs: list[int], sex: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"uid_l": list(range(len(nhs))), "uid_r": list(range(1, len(nhs) + 1)),
                         "nhs": pl.Series(nhs, dtype=pl.Int8), "sex": pl.Series(sex, dtype=pl.Int8)})


def test_level_counts_count_missing_first_then_each_level() -> None:
    counts = level_counts(_pairs([-1, 0, 1, 1, 1], [0, 0, 1, -1, 0]))
    assert counts == {"nhs": [1, 1, 3], "sex": [1, 3, 1]}


def test_level_counts_of_no_pairs_are_zero() -> None:
    assert level_counts(_pairs([], [])) == {"nhs": [0, 0, 0], "sex": [0, 0, 0]}


def test_counts_add_level_by_level() -> None:
    total = add_level_counts({}, {"nhs": [1, 1, 3]})
    total = add_level_counts(total, {"nhs": [0, 2, 1], "sex": [4, 0, 2]})
    assert total == {"nhs": [1, 3, 4], "sex": [4, 0, 2]}


def test_a_profile_from_parts_equals_the_profile_of_the_whole() -> None:
    first, second = _pairs([-1, 0, 1], [0, 1, 1]), _pairs([1, 1, 0, -1], [-1, 0, 0, 1])
    decisions = pl.DataFrame({"decision": ["link", "link", "review", "guarded"]})
    whole = night_profile(pl.concat([first, second]), decisions, 8)
    parts = profile_of_counts(add_level_counts(level_counts(first), level_counts(second)), 7, decisions, 8)
    assert parts == whole
    assert parts == {"candidate_pairs": 7, "records": 8,
                     "level_shares": {"nhs": [0.285714, 0.285714, 0.428571], "sex": [0.142857, 0.428571, 0.428571]},
                     "links_per_record": 0.25, "review_per_record": 0.125}
