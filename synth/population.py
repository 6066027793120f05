"""Households and people: the true population behind a synthetic county."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import numpy as np

from synth import reference as ref
from synth.geography import FATHER_NEARBY, Address, Gazetteer
from synth.nhs import TEST_RANGE_CAPACITY, generate_nhs_numbers

__all__ = ["Address", "Household", "Person", "Population"]

#: How unevenly surnames spread over districts: a surname's weight in a district is its county-wide
#: weight times a log-normal factor of this spread (so each district has its own common names).
SURNAME_SPREAD = 0.45
#: Share of households whose surname is a neighbour's in the same postcode (family living close by).
KIN_NEXT_DOOR = 0.06


@dataclass(slots=True)
class Household:
    """A household: an address, optional earlier address, optional move during the nights."""

    hid: str
    address: Address
    area: int = 0  # the gazetteer area (a town's part of a postcode district) the household lives in
    prev_address: Address | None = None
    future_address: Address | None = None
    future_move: int | None = None  # date ordinal of a move within the generated nights
    risk: bool = False
    members: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Person:
    """A true person."""

    idx: int
    tid: str
    hh: int
    role: str
    sex: str
    fore: str
    middle: str
    sur: str
    dob: dt.date
    nhs: str = ""
    prev_sur: str | None = None
    mother: int | None = None
    father: int | None = None  # biological father, may live elsewhere
    partner_of_mother: int | None = None
    children: list[int] = field(default_factory=list)


class Population:
    """The true population: households and people, built deterministically from a seed."""

    def __init__(self, households: int, seed: int, today: dt.date, horizon: dt.date) -> None:
        """Build the population.

        Args:
            households: number of households to make.
            seed: random seed.
            today: extract date of the first night.
            horizon: extract date of the last night (babies may be born up to it).
        """
        self.r = random.Random(seed)
        self.rng = np.random.default_rng(seed)
        self.today = today
        self.horizon = horizon
        self.people: list[Person] = []
        self.households: list[Household] = []
        self.gazetteer = Gazetteer(self.r, households)
        self._surname_cum: dict[int, list[float]] = {}
        self._kin: dict[str, list[str]] = {}
        for _ in range(households):
            self._make_household()
        self._number_people()
        self._plan_moves()

    def _number_people(self) -> None:
        """Give everyone a test-range NHS number; beyond the range's capacity, a random subset only.

        The test range holds about 909 000 valid numbers, so a region of a million households (about 2.9M
        people) has people without one: their records carry no number (status 03, trace required).
        """
        people = self.people
        if len(people) > TEST_RANGE_CAPACITY:
            chosen = self.rng.choice(len(people), size=TEST_RANGE_CAPACITY, replace=False)
            people = [self.people[int(i)] for i in np.sort(chosen)]
        for p, n in zip(people, generate_nhs_numbers(self.rng, len(people)), strict=True):
            p.nhs = n

    # -- helpers ---------------------------------------------------------------------------------
    def _surname_weights(self, area: int) -> list[float]:
        """Cumulative surname weights of one area: county-wide (Zipf-like by list rank) times a local factor."""
        cum = self._surname_cum.get(area)
        if cum is None:
            r = self.r
            total = 0.0
            cum = []
            for rank in range(len(ref.SURNAMES)):
                total += r.lognormvariate(0.0, SURNAME_SPREAD) / (rank + 1) ** 0.35
                cum.append(total)
            self._surname_cum[area] = cum
        return cum

    def _dob(self, min_age: float, max_age: float) -> dt.date:
        days = int(self.r.uniform(min_age, max_age) * 365.25)
        return self.today - dt.timedelta(days=days)

    def _forename(self, sex: str) -> str:
        return self.r.choice(ref.MALE_FORENAMES if sex == "M" else ref.FEMALE_FORENAMES)

    def _surname(self, hh: Household) -> str:
        kin = self._kin.get(hh.address.postcode)
        if kin and self.r.random() < KIN_NEXT_DOOR:
            return self.r.choice(kin)
        return self.r.choices(ref.SURNAMES, cum_weights=self._surname_weights(hh.area))[0]

    @staticmethod
    def _gendered(sur: str, sex: str) -> str:
        if sex == "F":
            return ref.FEMININE_SURNAMES.get(sur, sur)
        return sur

    def _add(self, hh: Household, role: str, sex: str, dob: dt.date, sur: str, fore: str | None = None) -> Person:
        r = self.r
        idx = len(self.people)
        middle = ""
        if r.random() < 0.37:
            middle = self._forename(sex)
        p = Person(idx, f"T{idx + 1:06d}", int(hh.hid[1:]) - 1, role, sex, fore or self._forename(sex), middle,
                   self._gendered(sur, sex), dob)
        if p.middle == p.fore:
            p.middle = ""
        self.people.append(p)
        hh.members.append(idx)
        if role not in ("child", "adult_child"):
            self._kin.setdefault(hh.address.postcode, []).append(sur)
        return p

    def _new_household(self, near: Household | None = None) -> Household:
        g = self.gazetteer
        area = g.random_area() if near is None else g.nearby_area(near.area, FATHER_NEARBY)
        hh = Household(f"H{len(self.households) + 1:06d}", g.take(area), area=area)
        if self.r.random() < 0.08:
            hh.prev_address = g.any_address(g.nearby_area(area), hh.address)
        self.households.append(hh)
        return hh

    # -- household composition -----------------------------------------------------------------
    def _make_household(self) -> None:
        r = self.r
        kind = r.choices(
            ["couple", "single", "family", "lone_mother", "lone_father", "adult_children", "adults3",
             "blended"],
            weights=[22, 17, 38, 11, 1, 8, 3, 4],
        )[0]
        hh = self._new_household()
        hh.risk = r.random() < 0.07
        if kind == "single":
            sex = r.choice("MF")
            self._add(hh, "single", sex, self._dob(18, 84), self._surname(hh))
            return
        if kind in ("couple", "adults3"):
            sur = self._surname(hh)
            a = self._add(hh, "adult", "M" if r.random() < 0.85 else "F", self._dob(19, 88), sur)
            age = (self.today - a.dob).days / 365.25
            b_sur = sur if r.random() < 0.6 else self._surname(hh)
            self._add(hh, "adult", "F", self._dob(max(19, age - 8), min(88, age + 5)), b_sur)
            if kind == "adults3":
                self._add(hh, "adult", r.choice("MF"), self._dob(19, 40), sur)
            return
        # households with children
        mother_age = r.uniform(22, 50) if kind != "adult_children" else r.uniform(40, 69)
        sur = self._surname(hh)
        mother: Person | None = None
        father: Person | None = None
        partner: Person | None = None
        child_sur = sur
        if kind in ("family", "adult_children", "lone_father"):
            fdob = self._dob(mother_age + r.uniform(-2, 8), mother_age + r.uniform(-2, 8) + 0.01)
            fdob = min(fdob, self.today - dt.timedelta(days=int(20 * 365.25)))
            father = self._add(hh, "father", "M", fdob, sur)
        if kind != "lone_father":
            msur = sur if father is not None and r.random() < 0.8 else self._surname(hh)
            mother = self._add(hh, "mother", "F", self._dob(mother_age, mother_age + 0.01), msur)
            if father is not None and msur == sur and r.random() < 0.25:
                mother.prev_sur = self._surname(hh)
            if father is not None and msur != sur and r.random() < 0.3:
                # double-barrelled family surname for the children
                child_sur = f"{msur}-{sur}"
                if r.random() < 0.5:
                    mother.sur = child_sur
        if kind in ("lone_mother", "blended") and mother is not None:
            # absent father living elsewhere, sometimes in this county
            if r.random() < 0.55:
                fh = self._new_household(near=hh)
                fh.risk = hh.risk or r.random() < 0.1
                father = self._add(fh, "single", "M", self._dob(mother_age - 3, mother_age + 6), self._surname(fh))
                child_sur = father.sur if r.random() < 0.5 else mother.sur
            else:
                child_sur = mother.sur
            if kind == "blended":
                partner = self._add(hh, "partner", "M", self._dob(mother_age - 4, mother_age + 8), self._surname(hh))
        n_children = r.choices([1, 2, 3, 4], weights=[45, 33, 15, 7])[0]
        if kind == "adult_children":
            n_children = r.choices([1, 2], weights=[65, 35])[0]
        parent_age = (self.today - (mother or father).dob).days / 365.25  # type: ignore[union-attr]
        lo = max(0.0, parent_age - 42) if kind != "adult_children" else max(18.0, parent_age - 40)
        hi = min(17.9, parent_age - 18) if kind != "adult_children" else min(29.9, parent_age - 18)
        if hi <= lo:
            hi = lo + 0.5
        ages = sorted((r.uniform(lo - 0.0, hi) for _ in range(n_children)), reverse=True)
        if kind != "adult_children" and r.random() < 0.12:
            # a baby due within the nights, or very recently born
            ages[-1] = r.uniform(-((self.horizon - self.today).days / 365.25), 0.1)
        prev: Person | None = None
        for age in ages:
            sex = r.choice("MF")
            role = "child" if age < 18 else "adult_child"
            days = int(age * 365.25)
            dob = self.today - dt.timedelta(days=days)
            fore = None
            twins = prev is not None and r.random() < 0.03
            if twins and prev is not None:
                dob = prev.dob
            if sex == "M" and father is not None and r.random() < 0.05:
                fore = father.fore  # son shares his father's name
            c = self._add(hh, role, sex, dob, child_sur, fore)
            if c.dob > self.horizon:
                c.dob = self.horizon
            # Parents do not give two of their children one forename (twins included).
            siblings = {self.people[m].fore for m in hh.members
                        if m != c.idx and self.people[m].role in ("child", "adult_child")}
            while c.fore in siblings:
                c.fore = self._forename(sex)
            c.mother = mother.idx if mother else None
            c.father = father.idx if father else None
            c.partner_of_mother = partner.idx if partner else None
            for par in (mother, father, partner):
                if par is not None and (par is not partner):
                    par.children.append(c.idx)
            prev = c

    def _plan_moves(self) -> None:
        nights = (self.horizon - self.today).days
        if nights <= 0:
            return
        r = self.r
        for hh in self.households:
            if r.random() < 0.004 * nights:
                g = self.gazetteer
                hh.future_address = g.take(g.nearby_area(hh.area))
                hh.future_move = self.today.toordinal() + r.randint(1, nights)
