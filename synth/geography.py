"""The county's streets and postcodes, shaped like UK geography.

A postcode district (``CH1``) holds a few sectors (``CH1 4``); a sector holds streets; a street's
house numbers are cut into postcode units (``CH1 4AB``) of about fifteen addresses, one side of a long
street at a time, as Royal Mail's are (a real unit holds about 15 addresses). Households are placed at
random free addresses of a district, so neighbours share a postcode and a street, and most moves stay
within the district. Every draw comes from the population's own random generator: the same seed gives
the same county.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from synth import reference as ref

#: Letters Royal Mail uses in the inward code's last two places.
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
#: Share of addresses with a household of the county (the rest are empty, businesses or not in any source).
OCCUPANCY = 0.92
#: Addresses one postcode sector holds before the district opens its next sector (real: about 2,500-3,000).
SECTOR_ADDRESSES = 2_500
#: Addresses one district holds at most before the town gets another district (real: about 10,000-20,000,
#: a generated county of 20k households has smaller districts than real ones, never larger).
DISTRICT_ADDRESSES = 40_000
#: Share of moves (earlier address, a move during the nights) that stay in the household's district.
MOVE_WITHIN_DISTRICT = 0.7
#: Share of absent fathers who live in the mother's district.
FATHER_NEARBY = 0.5


@dataclass(slots=True)
class Address:
    """A postal address as the household really has it."""

    number: int
    street: str
    locality: str
    town: str
    postcode: str

    @property
    def line1(self) -> str:
        """First address line (number and street)."""
        return f"{self.number} {self.street}"

    @property
    def district(self) -> str:
        """Postcode district (outward code), e.g. ``CH1``."""
        return self.postcode.split(" ")[0]

    @property
    def sector(self) -> str:
        """Postcode sector, e.g. ``CH1 4``."""
        return self.postcode[:-2]


@dataclass(slots=True)
class _Code:
    """Unit codes of one district code (shared by every town that uses it)."""

    code: str
    digits: list[int]
    free_units: dict[int, list[str]] = field(default_factory=dict)
    filled: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Area:
    """One town's part of one district: its streets and addresses."""

    town: str
    code: str
    localities: tuple[str, ...]
    sector_locality: dict[int, str] = field(default_factory=dict)
    addresses: list[Address] = field(default_factory=list)
    free: list[Address] = field(default_factory=list)


class Gazetteer:
    """Streets, house numbers and postcodes of a county, made as households need them."""

    def __init__(self, r: random.Random, households: int) -> None:
        """Lay out the county's districts and build enough streets for ``households``.

        Args:
            r: the population's random generator (all draws come from it).
            households: households the population will make (absent fathers and moves add about 10 %).
        """
        self.r = r
        self._codes: dict[str, _Code] = {}
        self._areas: list[_Area] = []
        self._street_names: dict[str, set[str]] = {}
        self._town_areas: list[list[int]] = []
        need = households * 1.1 / OCCUPANCY
        used = {d for _, _, ds in ref.TOWNS for d in ds}
        for (town, locs, districts), w in zip(ref.TOWNS, ref.TOWN_WEIGHTS, strict=True):
            codes = list(districts)
            extra = math.ceil(need * w / DISTRICT_ADDRESSES) - len(codes)
            codes += self._more_codes(districts[0], extra, used)
            self._street_names[town] = set()
            idx = []
            for code in codes:
                idx.append(len(self._areas))
                self._areas.append(_Area(town, code, locs))
                self._share(code, need * w / len(codes))
            self._town_areas.append(idx)
        for c in self._codes.values():
            self._lay_sectors(c)
        for w, idx in zip(ref.TOWN_WEIGHTS, self._town_areas, strict=True):
            for i in idx:
                target = need * w / len(idx)
                while len(self._areas[i].addresses) < target:
                    self._street(i)

    # -- layout --------------------------------------------------------------------------------
    @staticmethod
    def _more_codes(first: str, n: int, used: set[str]) -> list[str]:
        area = first.rstrip("0123456789")
        out: list[str] = []
        k = 70
        while len(out) < n:
            code = f"{area}{k}"
            if code not in used:
                used.add(code)
                out.append(code)
            k += 1
        return out

    def _share(self, code: str, addresses: float) -> None:
        c = self._codes.setdefault(code, _Code(code, []))
        c.filled[-1] = c.filled.get(-1, 0) + int(addresses)

    def _lay_sectors(self, c: _Code) -> None:
        n = min(10, max(2, math.ceil(c.filled.pop(-1, 0) / SECTOR_ADDRESSES)))
        c.digits = sorted(self.r.sample(range(10), n))
        for d in c.digits:
            units = [a + b for a in UNIT_LETTERS for b in UNIT_LETTERS]
            self.r.shuffle(units)
            c.free_units[d] = units
            c.filled[d] = 0

    def _street_name(self, town: str) -> str:
        names = self._street_names[town]
        r = self.r
        for _ in range(30):
            name = f"{r.choice(ref.STREET_NAMES)} {r.choice(ref.STREET_SUFFIXES)}"
            if name not in names:
                names.add(name)
                return name
        return name  # a big town repeats a street name in another district, as real ones do

    def _unit(self, c: _Code, digit: int) -> str:
        free = c.free_units[digit]
        if not free:  # every unit code of the sector used: the street joins the last unit
            return f"{c.code} {digit}{UNIT_LETTERS[-1]}{UNIT_LETTERS[-1]}"
        return f"{c.code} {digit}{free.pop()}"

    def _street(self, i: int) -> None:
        """Add one street to area ``i``: its house numbers cut into postcode units."""
        r = self.r
        area = self._areas[i]
        c = self._codes[area.code]
        digit = min(c.digits, key=lambda d: (c.filled[d], d))
        locality = area.sector_locality.setdefault(digit, r.choice(area.localities))
        name = self._street_name(area.town)
        length = max(2, min(320, round(r.lognormvariate(math.log(22), 0.9))))
        sides = [range(1, length + 1)] if length <= 34 else [range(1, length + 1, 2), range(2, length + 1, 2)]
        for side in sides:
            numbers = list(side)
            while numbers:
                size = max(3, round(r.lognormvariate(math.log(24), 0.45)))
                if len(numbers) - size < 4:
                    size = len(numbers)
                postcode = self._unit(c, digit)
                for n in numbers[:size]:
                    a = Address(n, name, locality, area.town, postcode)
                    area.addresses.append(a)
                    area.free.append(a)
                numbers = numbers[size:]
        c.filled[digit] += length

    # -- use -----------------------------------------------------------------------------------
    def random_area(self) -> int:
        """An area drawn by the towns' weights (then uniformly among the town's districts)."""
        t = self.r.choices(range(len(ref.TOWNS)), weights=ref.TOWN_WEIGHTS)[0]
        return self.r.choice(self._town_areas[t])

    def nearby_area(self, i: int, p_same: float = MOVE_WITHIN_DISTRICT) -> int:
        """Area ``i`` with probability ``p_same``, otherwise an area anywhere in the county."""
        return i if self.r.random() < p_same else self.random_area()

    def take(self, i: int) -> Address:
        """A random free address of area ``i`` (now occupied); a new street when the area is full."""
        area = self._areas[i]
        if not area.free:
            self._street(i)
        free = area.free
        k = self.r.randrange(len(free))
        free[k], free[-1] = free[-1], free[k]
        return free.pop()

    def any_address(self, i: int, not_this: Address) -> Address:
        """Any address of area ``i`` other than ``not_this``, occupied or not (an earlier home)."""
        addresses = self._areas[i].addresses
        while True:
            a = addresses[self.r.randrange(len(addresses))]
            if a is not not_this:
                return a

    def district(self, i: int) -> str:
        """The postcode district of area ``i``."""
        return self._areas[i].code
