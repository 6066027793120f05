"""Source records: which people each of the seven systems holds, and how each system writes them."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from synth import reference as ref
from synth.nhs import mistype_nhs
from synth.population import Address, Person, Population

SOURCES: tuple[str, ...] = ("hv", "sn", "camhs", "gp", "dental", "tp", "amh")
WINDOW_DAYS = 548  # contacts in the last 18 months


@dataclass(slots=True)
class Record:
    """One people-file record as a source system holds it (values as written)."""

    rid: str
    pid: int
    start: int  # date ordinal from which the record exists
    end: int | None  # discharge / episode end ordinal (None while open)
    leave: int | None  # ordinal from which the record is no longer on the file
    fore: str
    middle: str
    sur: str
    dob: dt.date
    nhs: str
    nhs_status: str
    nhs_flag: str  # "", "blank", "mistyped", "other"
    addr: Address
    addr_new: Address | None = None
    addr_change: int | None = None
    broken: str | None = None
    dup: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Mention:
    """A related-people / named-child / dependant row on a record."""

    owner: int  # index into the source's record list
    pid: int  # true person referred to
    fields: list[str]


@dataclass(slots=True)
class Appointments:
    """Appointment rows of one source (numpy columns)."""

    owner: np.ndarray  # record index
    day: np.ndarray  # date ordinal
    minute: np.ndarray  # minute of day
    kind: np.ndarray  # index into kinds
    outcome: np.ndarray  # index into outcomes
    staff: np.ndarray  # index into staff
    broken: np.ndarray  # 0 none, 1 impossible_date, 2 blank_identifier
    dup: np.ndarray  # bool
    kinds: tuple[str, ...]
    outcomes: tuple[str, ...]
    missed: tuple[str, ...]
    staff_names: tuple[str, ...]


def _ascii(s: str) -> str:
    return "".join(ref.ASCII_MAP.get(ch, ch) for ch in s)


def _cp1252_ok(s: str) -> bool:
    try:
        s.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def typo(r: random.Random, s: str) -> str:
    """Introduce one realistic typing error into ``s``.

    Args:
        r: random generator.
        s: text to corrupt.

    Returns:
        The text with one letter substituted, dropped, doubled or two letters transposed.
    """
    if len(s) < 3:
        return s
    i = r.randint(1, len(s) - 2)
    op = r.randrange(4)
    if op == 0:
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if op == 1:
        return s[:i] + s[i + 1 :]
    if op == 2:
        return s[:i] + s[i] + s[i:]
    return s[:i] + r.choice("aeiouyrtnls") + s[i + 1 :]


def dob_variant(r: random.Random, dob: dt.date, p_swap: float = 0.006, p_digit: float = 0.005) -> dt.date:
    """Return the date of birth as a system might have recorded it (day/month swap, mistyped digit).

    Args:
        r: random generator.
        dob: true date of birth.
        p_swap: probability of a day-month swap.
        p_digit: probability of one mistyped digit.

    Returns:
        A valid date, usually equal to ``dob``.
    """
    u = r.random()
    if u < p_swap and dob.day <= 12 and dob.day != dob.month:
        return dob.replace(day=dob.month, month=dob.day)
    if u < p_swap + p_digit:
        for _ in range(10):
            which = r.randrange(3)
            try:
                if which == 0:
                    d = dob.replace(day=(dob.day // 10) * 10 + r.randint(1, 9))
                elif which == 1:
                    d = dob.replace(year=dob.year - dob.year % 10 + r.randint(0, 9))
                else:
                    d = dob.replace(day=r.randint(1, 9) + 10 * (dob.day // 10 + (1 if dob.day < 20 else -1)))
            except ValueError:
                continue
            if d != dob and d.year > 1920:
                return d
    return dob


class SourceBuilder:
    """Builds every source's records, mentions and appointments from a population."""

    BLANK_NHS: ClassVar[dict[str, float]] = {
        "hv": 0.02, "sn": 0.04, "camhs": 0.02, "gp": 0.003, "dental": 0.82, "tp": 0.8, "amh": 0.01}
    STALE: ClassVar[dict[str, float]] = {
        "hv": 0.15, "sn": 0.3, "camhs": 0.3, "gp": 0.1, "dental": 0.45, "tp": 0.3, "amh": 0.25}
    RATE_BROKEN = 0.0025
    RATE_DUP = 0.003

    def __init__(self, pop: Population, seed: int) -> None:
        """Prepare a builder.

        Args:
            pop: the true population.
            seed: random seed (combined with a per-builder salt).
        """
        self.pop = pop
        self.r = random.Random(seed * 7919 + 17)
        self.rng = np.random.default_rng(seed + 1_000_003)
        self.today = pop.today.toordinal()
        self.horizon = pop.horizon.toordinal()
        self.nights = self.horizon - self.today
        self.records: dict[str, list[Record]] = {s: [] for s in SOURCES}
        self.by_person: dict[str, dict[int, int]] = {s: {} for s in SOURCES}
        self.mentions: dict[str, list[Mention]] = {"hv": [], "sn": [], "tp": [], "amh": []}
        self.appointments: dict[str, Appointments] = {}
        self._ids: dict[str, list[int]] = {}

    # -- identifiers ---------------------------------------------------------------------------
    def _id_pool(self, src: str, n: int) -> list[int]:
        lo, hi = {
            "hv": (100_000, 999_999), "sn": (100_000, 999_999), "camhs": (1_000_000, 9_999_999),
            "gp": (10_000, 999_999), "dental": (1_000, 99_999), "tp": (10_000, 99_999),
            "amh": (1_000_000, 9_999_999),
        }[src]
        while hi - lo < n * 3:
            hi = hi * 10 + 9
        return self.r.sample(range(lo, hi), n)

    def _rid(self, src: str, number: int) -> str:
        return {"camhs": "RIO", "dental": "P", "tp": "TP"}.get(src, "") + str(number)

    # -- written values ------------------------------------------------------------------------
    def _names(self, p: Person, src: str) -> tuple[str, str]:
        r = self.r
        fore, sur = p.fore, p.sur
        if p.prev_sur and r.random() < 0.3:
            sur = p.prev_sur
        elif "-" in sur and r.random() < 0.25:
            sur = r.choice(sur.split("-"))
        if fore in ref.NICKNAMES and src not in ("gp", "tp") and r.random() < 0.12:
            fore = r.choice(ref.NICKNAMES[fore])
        u = r.random()
        if u < 0.012:
            fore = typo(r, fore)
        elif u < 0.024:
            sur = typo(r, sur)
        if src == "dental" and (not _cp1252_ok(fore + sur) or r.random() < 0.2):
            fore, sur = _ascii(fore), _ascii(sur)
        if r.random() < 0.005:
            fore, sur = sur, fore
        return fore, sur

    def _nhs(self, p: Person, src: str, baby: bool) -> tuple[str, str, str]:
        r = self.r
        if baby and src == "hv" and r.random() < 0.5:
            return "", "08", "blank"
        if not p.nhs:  # a person beyond the test range's capacity (a region-sized population)
            return "", "03", "blank"
        u = r.random()
        if u < self.BLANK_NHS[src]:
            return "", r.choice(("03", "07", "04")), "blank"
        u = r.random()
        if u < 0.01:
            return mistype_nhs(p.nhs, self.rng), r.choice(("02", "03")), "mistyped"
        if u < 0.012 and len(self.pop.people) > 1:
            other = self.pop.people[r.randrange(len(self.pop.people))]
            if other.idx != p.idx:
                return other.nhs, "02", "other"
        return p.nhs, "01" if r.random() < 0.95 else "02", ""

    def _address(self, p: Person, src: str) -> tuple[Address, Address | None, int | None]:
        hh = self.pop.households[p.hh]
        addr = hh.address
        if hh.prev_address is not None and self.r.random() < self.STALE[src]:
            addr = hh.prev_address
        if hh.future_address is not None and src == "gp":
            return addr, hh.future_address, hh.future_move
        return addr, None, None

    def _past(self, lo: int, hi: int) -> int:
        """A date ordinal between lo and hi (inclusive), favouring neither end."""
        if hi <= lo:
            return lo
        return self.r.randint(lo, hi)

    def _start(self, earliest: int, lookback_days: int) -> int:
        """Start ordinal: usually in the past, occasionally during the generated nights."""
        if self.nights > 0 and self.r.random() < 0.005 * self.nights:
            return self.today + self.r.randint(1, self.nights)
        return self._past(max(earliest, self.today - lookback_days), self.today - 1)

    def _add(self, src: str, p: Person, start: int, end: int | None = None, leave: int | None = None,
             **extra: Any) -> Record:
        fore, sur = self._names(p, src)
        dob = dob_variant(self.r, p.dob)
        baby = (self.pop.today - p.dob).days < 60
        nhs, status, flag = self._nhs(p, src, baby)
        addr, new, change = self._address(p, src)
        rec = Record("", p.idx, start, end, leave, fore, p.middle, sur, dob, nhs, status, flag, addr, new,
                     change, extra=extra)
        u = self.r.random()
        if src != "camhs" and u < self.RATE_BROKEN:
            rec.broken = self.r.choices(
                ["impossible_date", "blank_surname", "blank_identifier", "unparseable_line"],
                weights=[50, 25, 12, 13])[0]
        elif u < self.RATE_BROKEN + self.RATE_DUP:
            rec.dup = True
        self.by_person[src][p.idx] = len(self.records[src])
        self.records[src].append(rec)
        return rec

    # -- membership ----------------------------------------------------------------------------
    def build(self) -> None:
        """Create all records, mentions and appointments."""
        r = self.r
        pop = self.pop
        for p in pop.people:
            hh = pop.households[p.hh]
            age = (pop.today - p.dob).days / 365.25
            dob_o = p.dob.toordinal()
            is_parent = bool(p.children)
            # GP
            if r.random() < 0.955:
                start = dob_o + r.randint(10, 45) if age < 0.2 else self._start(dob_o + 10, 25 * 365)
                if start <= self.horizon:
                    self._add("gp", p, start, title=self._title(p, age), practice=r.randrange(len(ref.GP_PRACTICES)))
            # dental
            if age >= 1 and r.random() < (0.5 if age < 18 else 0.38):
                self._add("dental", p, self._start(dob_o + 365, 10 * 365), title=self._title(p, age),
                          practice=r.randrange(len(ref.DENTAL_PRACTICES)))
            # health visiting
            if age < 5 and r.random() < 0.9:
                start = dob_o + r.randint(7, 14)
                if start <= self.horizon:
                    fifth = p.dob.replace(year=p.dob.year + 5) if not (p.dob.month == 2 and p.dob.day == 29) \
                        else dt.date(p.dob.year + 5, 3, 1)
                    self._add("hv", p, start, leave=fifth.toordinal(), **self._child_flags(hh.risk))
            # school nursing
            if 4.2 <= age < 18 and r.random() < (0.6 if hh.risk else 0.27):
                self._add("sn", p, self._start(dob_o + 4 * 365, 6 * 365), **self._child_flags(hh.risk))
            # CAMHS
            if 5 <= age < 17.8:
                pc = 0.025 if age < 12 else 0.13
                if hh.risk:
                    pc *= 2.5
                if r.random() < pc:
                    self._add_camhs(p)
            # adult services
            if 18 <= age < 75:
                base_tp = 0.012 if age < 65 else 0.002
                base_amh = 0.03
                if hh.risk and (is_parent or p.role in ("partner", "single")):
                    base_tp, base_amh = 0.25, 0.25
                    if r.random() < 0.3:
                        base_tp = base_amh = 1.0
                in_tp = r.random() < base_tp
                in_amh = r.random() < base_amh
                if in_tp:
                    self._add_tp(p, in_amh)
                if in_amh:
                    self._add_amh(p, in_tp)
        self._assign_ids()
        self._cross_services()
        self._mentions()
        self._appointments()

    def _title(self, p: Person, age: float) -> str:
        r = self.r
        if age < 16:
            return "Master" if p.sex == "M" else "Miss"
        if r.random() < 0.02:
            return "Dr"
        if p.sex == "M":
            return "Mr"
        return r.choices(["Mrs", "Miss", "Ms"], weights=[45, 30, 25])[0]

    def _child_flags(self, risk: bool) -> dict[str, Any]:
        r = self.r
        cpp = r.random() < (0.2 if risk else 0.01)
        lac = r.random() < (0.08 if risk else 0.004)
        return {"cpp": cpp, "lac": lac, "risk": risk}

    def _open_end(self, start: int, p_open: float) -> int | None:
        r = self.r
        if r.random() < p_open:
            if self.nights > 0 and r.random() < 0.008 * self.nights:
                return self.today + r.randint(1, self.nights)
            return None
        lo = start + 30
        return self._past(min(lo, self.today - 1), self.today - 1)

    def _add_camhs(self, p: Person) -> None:
        r = self.r
        n_ref = 1 if r.random() < 0.8 else 2
        refs = []
        start = self._start(p.dob.toordinal() + 5 * 365, 3 * 365)
        for k in range(n_ref):
            open_ = k == n_ref - 1
            end = self._open_end(start, 0.7) if open_ else self._past(start + 60, min(start + 300, self.today - 1))
            refs.append((start, end))
            if k < n_ref - 1:
                nxt = (end or start) + r.randint(60, 400)
                if nxt >= self.today:
                    break
                start = nxt
        team = r.randrange(len(ref.CAMHS_TEAMS))
        self._add("camhs", p, refs[0][0], refs[-1][1], referrals=refs, team=team,
                  coordinator=r.choice(ref.CAMHS_TEAMS[team][1]), gender=r.random())

    def _add_tp(self, p: Person, also_amh: bool) -> None:
        r = self.r
        start = self._start(p.dob.toordinal() + 18 * 365, 4 * 365)
        end = self._open_end(start, 0.65)
        known_as = ""
        if p.fore in ref.NICKNAMES and r.random() < 0.4:
            known_as = r.choice(ref.NICKNAMES[p.fore])
        elif r.random() < 0.15:
            known_as = r.choice(ref.ALIASES)
        self._add("tp", p, start, end, known_as=known_as, also_amh=also_amh)

    def _add_amh(self, p: Person, also_tp: bool) -> None:
        start = self._start(p.dob.toordinal() + 18 * 365, 5 * 365)
        end = self._open_end(start, 0.6)
        team = self.r.randrange(len(ref.AMH_TEAMS))
        self._add("amh", p, start, end, team=team, also_tp=also_tp)

    def _assign_ids(self) -> None:
        for src, recs in self.records.items():
            pool = self._id_pool(src, len(recs))
            for rec, n in zip(recs, pool, strict=True):
                rec.rid = self._rid(src, n)
            if src == "camhs":
                for rec in recs:
                    rec.extra["ref_ids"] = [str(x) for x in self.r.sample(range(10_000_000, 99_999_999),
                                                                          len(rec.extra["referrals"]))]

    def _cross_services(self) -> None:
        """Fill the free-text 'other services' fields, sometimes leaving out a service involved."""
        r = self.r
        camhs = self.by_person["camhs"]
        sn = self.by_person["sn"]
        hv = self.by_person["hv"]
        for src in ("hv", "sn"):
            for rec in self.records[src]:
                parts = []
                if rec.pid in camhs and r.random() < 0.5:
                    parts.append("CAMHS")
                if r.random() < 0.45:
                    parts.append("GP")
                if src == "hv" and r.random() < 0.02:
                    parts.append("Social Care")
                rec.extra["other"] = ";".join(parts)
        for rec in self.records["camhs"]:
            parts = []
            if rec.pid in sn and r.random() < 0.5:
                parts.append(r.choice(("School Nurse", "School Nursing", "SN")))
            if rec.pid in hv and r.random() < 0.6:
                parts.append(r.choice(("Health Visitor", "HV")))
            if r.random() < 0.3:
                parts.append("GP")
            if r.random() < 0.05:
                parts.append("Social Care")
            rec.extra["other"] = ";".join(parts)
        for rec in self.records["tp"]:
            parts = []
            if rec.extra["also_amh"] and r.random() < 0.4:
                parts.append(r.choice(("CMHT", "Mental Health", "AMH", "Community Mental Health Team")))
            if r.random() < 0.2:
                parts.append("GP")
            rec.extra["other"] = ";".join(parts)
        for rec in self.records["amh"]:
            if rec.extra["also_tp"]:
                rec.extra["smi"] = r.choices(["Yes", "No", "Unknown"], weights=[50, 15, 35])[0]
            else:
                rec.extra["smi"] = r.choices(["No", "Unknown"], weights=[40, 60])[0]

    # -- related people, named children, dependants ---------------------------------------------
    def _mentions(self) -> None:
        r = self.r
        pop = self.pop
        people = pop.people
        for src in ("hv", "sn"):
            for i, rec in enumerate(self.records[src]):
                c = people[rec.pid]
                risk = rec.extra["risk"]
                rows: list[tuple[int, str, str, str]] = []  # pid, relationship, lives, pr
                if c.mother is not None and r.random() < (0.7 if risk else 0.96):
                    rows.append((c.mother, "Mother", "Yes", "Yes"))
                if c.father is not None:
                    f = people[c.father]
                    if f.hh == c.hh and r.random() < (0.55 if risk else 0.9):
                        rows.append((c.father, "Father", "Yes", "Yes"))
                    elif f.hh != c.hh and r.random() < 0.3:
                        rows.append((c.father, "Father", "No", r.choice(("Yes", "Unknown"))))
                if c.partner_of_mother is not None and r.random() < 0.35:
                    rows.append((c.partner_of_mother, r.choice(("Partner of Mother", "Stepfather")), "Yes", "No"))
                if r.random() < 0.08:
                    sibs = [m for m in pop.households[c.hh].members
                            if people[m].role == "adult_child" and m != c.idx]
                    if sibs:
                        rows.append((r.choice(sibs), "Sibling", "Yes", "No"))
                for pid, rel, lives, pr in rows:
                    a = people[pid]
                    fore, sur = self._names(a, src)
                    dob = dob_variant(r, a.dob)
                    if src == "hv":
                        nhs = a.nhs if r.random() < 0.05 else ""
                        nhs = f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" if nhs else ""
                        fields = [fore, sur, dob.strftime("%d/%m/%Y") if r.random() < 0.35 else "", nhs, rel,
                                  lives if r.random() < 0.95 else "Unknown", pr]
                    else:
                        lw = {"Yes": "Y", "No": "N"}.get(lives, "U") if r.random() < 0.95 else "U"
                        fields = [f"{sur.upper()}, {fore}", dob.isoformat() if r.random() < 0.25 else "", rel, lw]
                    self.mentions[src].append(Mention(i, pid, fields))
        for i, rec in enumerate(self.records["tp"]):
            a = people[rec.pid]
            kids = [k for k in a.children if (pop.today - people[k].dob).days < 18 * 365.25 + 400]
            lives_any = any(people[k].hh == a.hh for k in kids)
            if kids:
                status = ("Parent - children live with client" if lives_any
                          else "Parent - children do not live with client")
                if r.random() < 0.12:
                    status = "Not recorded"
            else:
                status = r.choices(["Not a parent", "Not recorded"], weights=[80, 20])[0]
            rec.extra["parental"] = status
            for k in kids:
                if r.random() > 0.8:
                    continue
                c = people[k]
                fore, sur = self._names(c, "tp")
                name = fore if r.random() < 0.2 else f"{fore} {sur}"
                dob_text = dob_variant(r, c.dob).isoformat() if r.random() < 0.8 else ""
                self.mentions["tp"].append(Mention(i, k, [name, dob_text, "Y" if c.hh == a.hh else "N"]))
        for i, rec in enumerate(self.records["amh"]):
            a = people[rec.pid]
            kids = [k for k in a.children if (pop.today - people[k].dob).days < 18 * 365.25]
            if kids:
                hdc = r.choices(["Yes", "Not asked"], weights=[75, 25])[0]
            else:
                hdc = r.choices(["No", "Not asked"], weights=[70, 30])[0]
            rec.extra["hdc"] = hdc
            if not kids or (hdc != "Yes" and r.random() < 0.5):
                continue
            for k in kids:
                if r.random() > 0.85:
                    continue
                c = people[k]
                fore, sur = self._names(c, "amh")
                if r.random() < 0.1:
                    sur = ""
                dob_text = dob_variant(r, c.dob).strftime("%d/%m/%Y") if r.random() < 0.7 else ""
                relat = "Son" if c.sex == "M" else "Daughter"
                if r.random() < 0.03:
                    relat = "Other child"
                self.mentions["amh"].append(Mention(i, k, [fore, sur, dob_text, relat,
                                                           "Yes" if c.hh == a.hh else "No"]))

    # -- appointments --------------------------------------------------------------------------
    def _appointments(self) -> None:
        people = self.pop.people
        lo_window = self.today - WINDOW_DAYS - 1
        specs: dict[str, dict[str, Any]] = {
            "hv": {"rate": 2.2, "miss": 0.05, "kinds": ("New Birth Visit", "6-8 Week Review", "1 Year Review",
                                                         "2-2.5 Year Review", "Targeted Home Visit", "Clinic"),
                   "outcomes": ("Attended", "Cancelled by Parent", "Cancelled by Service", "Was Not Brought",
                                "No Access Visit"), "w": (90, 6, 4), "missed": (0.7, 0.3), "staff": ref.HV_STAFF},
            "sn": {"rate": 2.0, "miss": 0.06, "kinds": ("Health Review", "Drop-in", "Home Visit", "Clinic",
                                                         "Immunisation"),
                   "outcomes": ("Attended", "Cancelled - patient", "Cancelled - service", "WNB", "DNA"),
                   "w": (88, 7, 5), "missed": (0.5, 0.5), "staff": ref.SN_STAFF},
            "camhs": {"rate": 6.0, "miss": 0.1, "kinds": ("appt",),
                      "outcomes": ("5", "6", "2", "4", "3", "7"), "w": (84, 4, 7, 5), "missed": (0.8, 0.2),
                      "staff": tuple(sorted({s for _, ss in ref.CAMHS_TEAMS for s in ss}))},
            "gp": {"rate": 3.6, "miss": 0.04, "kinds": ref.GP_SLOTS_CLIN + ref.GP_SLOTS_NURSE,
                   "outcomes": ("Finished", "Cancelled by Patient", "Cancelled by Unit",
                                "Left Without Being Seen", "Did Not Attend"), "w": (88, 7, 4, 1), "missed": (1.0,),
                   "staff": tuple(s for _, ss in ref.GP_PRACTICES for s in ss) + ref.GP_NURSES},
            "dental": {"rate": 1.9, "miss": 0.06, "kinds": ref.DENTAL_TREATMENTS,
                       "outcomes": ("Completed", "Cancelled (Pt)", "Cancelled (Practice)", "FTA"), "w": (88, 7, 5),
                       "missed": (1.0,), "staff": ("",)},
            "tp": {"rate": 6.5, "miss": 0.2, "kinds": ("",), "outcomes": ("Attended", "Cancelled", "DNA"),
                   "w": (90, 10), "missed": (1.0,), "staff": ("",)},
            "amh": {"rate": 3.5, "miss": 0.15, "kinds": ("",),
                    "outcomes": ("Attended", "Cancelled by Patient", "Cancelled by Trust", "DNA"), "w": (88, 7, 5),
                    "missed": (1.0,), "staff": ("",)},
        }
        rng = self.rng
        for src, spec in specs.items():
            recs = self.records[src]
            n = len(recs)
            start = np.array([rec.start for rec in recs], dtype=np.int64).reshape(n)
            endv = np.array([(rec.end if rec.end is not None else self.horizon) for rec in recs],
                            dtype=np.int64).reshape(n)
            if src == "hv":
                endv = np.minimum(endv, np.array([rec.leave or self.horizon for rec in recs], dtype=np.int64))
            lo = np.maximum(start, lo_window)
            hi = np.minimum(endv, self.horizon)
            span = np.clip(hi - lo + 1, 0, None)
            risk = np.array([self.pop.households[people[rec.pid].hh].risk for rec in recs], dtype=bool).reshape(n)
            child = np.array([(self.pop.today - people[rec.pid].dob).days < 18 * 365 for rec in recs],
                             dtype=bool).reshape(n)
            rate = spec["rate"] * rng.gamma(2.0, 0.5, size=n)
            counts = rng.poisson(rate * span / 365.25)
            owner = np.repeat(np.arange(n), counts)
            day = lo[owner] + np.floor(rng.random(owner.size) * span[owner]).astype(np.int64)
            if src == "hv":
                dob = np.array([people[rec.pid].dob.toordinal() for rec in recs], dtype=np.int64).reshape(n)
                sched = []
                for k, off in enumerate((12, 49, 365, 820)):
                    d = dob + off + rng.integers(0, 10, size=n)
                    ok = (d >= start) & (d <= hi) & (d > lo_window)
                    sched.append((np.nonzero(ok)[0], d[ok], k))
                kind = rng.choice(np.array([4, 5]), size=owner.size, p=[0.5, 0.5])
                owner = np.concatenate([owner] + [s[0] for s in sched])
                day = np.concatenate([day] + [s[1] for s in sched])
                kind = np.concatenate([kind] + [np.full(s[0].size, s[2]) for s in sched])
            else:
                kind = rng.integers(0, len(spec["kinds"]), size=owner.size)
            m = owner.size
            pmiss = np.where(risk[owner] & child[owner], 0.33, spec["miss"])
            if src == "tp":
                pmiss = np.where(risk[owner], 0.3, pmiss)
            u = rng.random(m)
            w = np.array(spec["w"], dtype=float)
            w /= w.sum()
            other = rng.choice(len(w), size=m, p=w)
            mw = np.array(spec["missed"], dtype=float)
            missed_code = len(w) + rng.choice(len(mw), size=m, p=mw)
            outcome = np.where(u < pmiss, missed_code, other)
            if src == "sn":
                # young people who book their own appointments are DNA, younger children WNB
                dob = np.array([people[rec.pid].dob.toordinal() for rec in recs], dtype=np.int64).reshape(n)
                older = (day - dob[owner]) > 13 * 365
                outcome = np.where(outcome >= 3, np.where(older, 4, 3), outcome)
            minute = (8 * 60 + rng.integers(0, 36, size=m) * 15).astype(np.int64)
            if src == "gp":
                minute = (8 * 60 + rng.integers(0, 54, size=m) * 10).astype(np.int64)
            staff = rng.integers(0, len(spec["staff"]), size=m)
            ub = rng.random(m)
            broken = np.where(ub < 0.0004, 1, np.where(ub < 0.0005, 2, 0))
            dup = (ub > 0.0005) & (ub < 0.0025)
            order = np.lexsort((minute, day, owner))
            missed_names = tuple(spec["outcomes"][len(w):])
            self.appointments[src] = Appointments(
                owner[order], day[order], minute[order], kind[order], outcome[order], staff[order],
                broken[order], dup[order], spec["kinds"], spec["outcomes"], missed_names, spec["staff"])
