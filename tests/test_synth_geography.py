"""The generator's geography: postcodes shared as real ones are, nested districts, local surnames, short moves."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl
import pytest

from synth import generate_county
from synth.population import Population

DATE = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(8000, seed=3, today=DATE, horizon=DATE + dt.timedelta(days=60))


def test_households_share_postcodes_as_real_ones_do(population: Population) -> None:
    per_postcode = Counter(h.address.postcode for h in population.households)
    sizes = sorted(per_postcode.values())
    # a real UK postcode unit holds about 15 addresses (median in the mid-teens, a long tail)
    assert 12 <= statistics.mean(sizes) <= 20
    assert 11 <= statistics.median(sizes) <= 19
    assert sum(1 for s in sizes if s == 1) / len(sizes) < 0.02
    assert sizes[len(sizes) // 10] >= 3 and sizes[-1] <= 120
    assert statistics.pstdev(sizes) >= 4  # units differ in size, not one fixed block


def test_no_two_households_at_one_address(population: Population) -> None:
    homes = [(h.address.number, h.address.street, h.address.postcode) for h in population.households]
    assert len(homes) == len(set(homes))


def test_postcodes_nest_in_sectors_districts_and_streets(population: Population) -> None:
    towns: dict[str, set[str]] = defaultdict(set)
    streets_of: dict[str, set[str]] = defaultdict(set)
    sectors_of: dict[str, set[str]] = defaultdict(set)
    for h in population.households:
        a = h.address
        outward, inward = a.postcode.split(" ")
        assert a.district == outward and a.sector == f"{outward} {inward[0]}"
        assert len(inward) == 3 and inward[0].isdigit()
        towns[a.postcode].add(a.town)
        streets_of[a.postcode].add(a.street)
        sectors_of[a.district].add(a.sector)
    assert all(len(t) == 1 for t in towns.values())  # a unit lies in one postal town
    assert all(len(s) == 1 for s in streets_of.values())  # a unit is (part of) one street
    assert all(len(s) >= 2 for s in sectors_of.values())  # a district holds several sectors
    by_street: dict[tuple[str, str], set[str]] = defaultdict(set)
    for h in population.households:
        by_street[(h.address.town, h.address.street)].add(h.address.postcode)
    assert max(len(p) for p in by_street.values()) >= 3  # long streets span several units


def test_moves_mostly_stay_in_the_district(population: Population) -> None:
    moves = [(h.address, h.prev_address) for h in population.households if h.prev_address is not None]
    moves += [(h.address, h.future_address) for h in population.households if h.future_address is not None]
    assert len(moves) > 300
    within = sum(a.district == b.district for a, b in moves) / len(moves)
    assert 0.6 <= within <= 0.9
    assert all(a is not b for a, b in moves)


def _dissimilarity(people: list[tuple[str, str]]) -> float:
    """Mean over districts of the index of dissimilarity between the district's surnames and the county's."""
    county = Counter(s for _, s in people)
    n = len(people)
    by_district: dict[str, Counter[str]] = defaultdict(Counter)
    for d, s in people:
        by_district[d][s] += 1
    out = []
    for counts in by_district.values():
        m = sum(counts.values())
        out.append(0.5 * sum(abs(counts[s] / m - county[s] / n) for s in county))
    return statistics.mean(out)


def test_surnames_cluster_by_district(population: Population) -> None:
    adults = [(population.households[p.hh].address.district, p.sur.split("-")[0]) for p in population.people
              if p.role not in ("child", "adult_child")]
    shuffled = [s for _, s in adults]
    random.Random(0).shuffle(shuffled)
    mixed = [(d, s) for (d, _), s in zip(adults, shuffled, strict=True)]
    assert _dissimilarity(adults) > 1.5 * _dissimilarity(mixed)


def test_same_seed_same_geography() -> None:
    def homes(seed: int) -> list[str]:
        pop = Population(600, seed=seed, today=DATE, horizon=DATE)
        return [f"{h.address.line1}|{h.address.postcode}|{h.address.town}" for h in pop.households]

    assert homes(4) == homes(4)
    assert homes(4) != homes(5)


def test_generated_drop_shows_shared_postcodes(tmp_path: Path) -> None:
    county = generate_county(tmp_path / "c", DATE, households=1500, seed=2)
    gp = pl.read_csv(next(county.landing_dir.glob("GP_RegisteredPatients_*.csv")), infer_schema_length=0)
    pc = pl.col("Postcode").str.to_uppercase().str.replace_all(" ", "")
    homes = gp.select(pc.alias("pc"), pl.col("Number and Street").str.to_lowercase().alias("street")).unique()
    per_postcode = homes.group_by("pc").len()["len"]
    assert per_postcode.mean() >= 8  # type: ignore[operator]
    assert per_postcode.median() >= 7  # type: ignore[operator]
