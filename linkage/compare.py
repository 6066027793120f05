"""Vectorised comparison features (recordlinkage ``BaseCompareFeature`` subclasses).

Each feature turns a pair of records into an agreement *level*: an integer index into the level labels
of its comparison, or ``-1`` when either side is missing (missing contributes weight 0).
recordlinkage's own string comparisons loop in Python; these use numpy, pandas and rapidfuzz
``process.cpdist`` over whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
import recordlinkage as rl
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler
from recordlinkage.base import BaseCompareFeature

MISSING = -1

#: Graded name levels, worst to best: an initial for a name; sounding alike (metaphone); Jaro-Winkler bands;
#: one Damerau-Levenshtein edit (a transposition is one edit); for forenames a nickname, alternative or
#: abbreviation, for surnames a token shared by multi-part names; exact; swapped with the other name; and for
#: forenames, after those, one name crossed into the other field while the other name disagrees (Bryce Dixon /
#: Reece Bryce): levels after ``exact`` are alternatives to it, not stronger agreement.
NAME_LEVELS = ["different", "initial", "phonetic", "jaro_winkler_80", "jaro_winkler_92", "one_edit"]
LEVELS: dict[str, list[str]] = {
    "forename": [*NAME_LEVELS, "nickname_or_alt", "exact", "swapped", "crossed"],
    "surname": [*NAME_LEVELS, "token", "exact", "swapped"],
    "dob": ["different", "within_10_years", "year_only", "one_digit", "day_month_swapped", "exact"],
    "location": ["different", "outward", "sector", "street", "postcode", "address_only", "postcode_and_address"],
    "nhs": ["different", "exact"],
    "sex": ["different", "same"],
}
COMPARISONS = list(LEVELS)
CLOSE_JW = 0.88
#: Name levels under which two spellings are taken for the same name written carelessly.
SPELT_ALIKE = ("jaro_winkler_92", "one_edit")


def _arr(s: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(s, dtype=object)


def _present(a: np.ndarray) -> np.ndarray:
    """Not missing: values are strings or None (``frames.to_recordlinkage`` turns every missing value into
    None). One element-wise comparison, not ``pd.notna``, which inspects each object's type."""
    return a != None  # noqa: E711 (an element-wise test, not an identity test)


def _eq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) & _present(a)  # equal to a present value, so present on both sides


def _text(a: np.ndarray) -> np.ndarray:
    """A fixed-width unicode array, ``""`` where missing (for numpy's vectorised string functions)."""
    return np.where(_present(a), a, "").astype(str)


def _jw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaro-Winkler similarity over two aligned arrays (0 where either side is missing)."""
    if len(a) == 0:
        return np.zeros(0)
    pa, pb = _present(a), _present(b)
    sim = process.cpdist(np.where(pa, a, ""), np.where(pb, b, ""), scorer=JaroWinkler.normalized_similarity,
                         workers=-1)
    return np.where(pa & pb, sim, 0.0)


def _osa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Optimal-string-alignment distance (edits incl. adjacent transposition); large when missing."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    pa, pb = _present(a), _present(b)
    d = process.cpdist(np.where(pa, a, ""), np.where(pb, b, ""), scorer=OSA.distance, workers=-1)
    return np.where(pa & pb, d, 99)


def _spelt_close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaro-Winkler at least :data:`CLOSE_JW`, or one edit apart (short names have low Jaro-Winkler
    for a single typo)."""
    return (_jw(a, b) >= CLOSE_JW) | (_osa(a, b) <= 1)


def _codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Both sides as integer codes into their shared distinct values (-1 where missing): work on a few
    thousand distinct names, then index, instead of touching every pair's strings."""
    codes, values = pd.factorize(np.concatenate([a, b]), use_na_sentinel=True)
    return codes[: len(a)].astype(np.int64), codes[len(a):].astype(np.int64), list(values)


def _joined_in(a: np.ndarray, b: np.ndarray, pairs: frozenset[str]) -> np.ndarray:
    """``"a|b"`` is one of ``pairs`` (a nickname pair), element by element."""
    if len(a) == 0 or not pairs:
        return np.zeros(len(a), dtype=bool)
    ca, cb, values = _codes(a, b)
    index = {v: i for i, v in enumerate(values)}
    n = len(values)
    wanted = [index[x] * n + index[y] for x, _, y in (p.partition("|") for p in pairs) if x in index and y in index]
    return (ca >= 0) & (cb >= 0) & np.isin(ca * n + cb, np.array(wanted, dtype=np.int64))


def _initial(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One side is a single letter, the other's first letter."""
    ca, cb, values = _codes(a, b)
    length = np.array([len(v) for v in values] + [0])  # code -1 (missing) picks the last entry
    first = np.array([v[:1] for v in values] + [""], dtype=object)
    la, lb = length[ca], length[cb]
    one = ((la == 1) | (lb == 1)) & (la > 0) & (lb > 0)
    return one & (first[ca] == first[cb])


def grade_names(a: np.ndarray, b: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """The graded level (index into :data:`NAME_LEVELS`) of two aligned name arrays; ``MISSING`` where
    either is blank. Exactness and name-specific levels are set by the callers.

    Args:
        a: left names (folded).
        b: right names (folded).
        pa: left phonetic keys.
        pb: right phonetic keys.
    """
    both = _present(a) & _present(b)
    jw = _jw(a, b)
    out = np.full(len(a), MISSING, dtype=np.int8)
    out[both] = NAME_LEVELS.index("different")
    out[both & _initial(a, b)] = NAME_LEVELS.index("initial")
    out[both & _eq(pa, pb)] = NAME_LEVELS.index("phonetic")
    out[both & (jw >= 0.80)] = NAME_LEVELS.index("jaro_winkler_80")
    out[both & (jw >= 0.92)] = NAME_LEVELS.index("jaro_winkler_92")
    out[both & (_osa(a, b) <= 1)] = NAME_LEVELS.index("one_edit")
    return out


def _crossing(fa: np.ndarray, sa: np.ndarray, fb: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """One record's forename is exactly the other's surname (either way round)."""
    return _eq(fa, sb) | _eq(sa, fb)


def _swapped(
    fa: np.ndarray, sa: np.ndarray, fb: np.ndarray, sb: np.ndarray, nickname_pairs: frozenset[str],
    crossing: np.ndarray,
) -> np.ndarray:
    """Forename and surname swapped: each crosses over closely (or as a nickname: Nick Clark /
    Clark Nicholas), at least one exactly (``crossing``, :func:`_crossing`), and the names do not already agree
    the straight way."""
    maybe = crossing & ~(_eq(fa, fb) | _eq(sa, sb))
    out = np.zeros(len(fa), dtype=bool)
    idx = np.nonzero(maybe)[0]
    if len(idx):

        def near(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            # spelt closely or nicknames (not merely sounding alike: Tilly / Doyle)
            nick = _joined_in(x, y, nickname_pairs)
            return _eq(x, y) | _spelt_close(x, y) | nick

        out[idx] = near(fa[idx], sb[idx]) & near(sa[idx], fb[idx])
    return out


def _crossed(fa: np.ndarray, sa: np.ndarray, fb: np.ndarray, sb: np.ndarray, crossing: np.ndarray) -> np.ndarray:
    """One record's forename is the other's surname, spelt alike: exactly (``crossing``, :func:`_crossing`), or
    one slip from it."""
    out = crossing.copy()
    idx = np.nonzero(~out & _present(fa) & _present(fb) & _present(sa) & _present(sb))[0]
    if len(idx):
        out[idx] = (_osa(fa[idx], sb[idx]) <= 1) | (_osa(sa[idx], fb[idx]) <= 1)
    return out


class ForenameLevels(BaseCompareFeature):
    """Forename: exact / nickname or alternative (known-as, middle) / close (incl. a slip in a nickname) /
    swapped / different.

    Left and right columns: ``fn``, ``fn_alt``, ``fn_ph``, ``sn`` (surname, for the swap test).
    """

    def __init__(self, nickname_pairs: frozenset[str], label: str = "forename") -> None:
        cols = ["fn", "fn_alt", "fn_ph", "sn"]
        super().__init__(cols, cols, label=label)
        self.nickname_pairs = nickname_pairs
        pairs = [p.partition("|") for p in sorted(nickname_pairs)]
        self.aliases = pl.DataFrame({"other": [a for a, _, _ in pairs], "alias": [b for _, _, b in pairs]},
                                    schema={"other": pl.Utf8, "alias": pl.Utf8})

    def _alias_close(self, fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
        """One name spelt closely to an alias of the other (``Wiilliam`` / ``Billy``, ``Nirola`` / ``Nicky``)."""
        names = pl.DataFrame({"a": fa.astype(str), "b": fb.astype(str)}).with_row_index("i")
        cand = pl.concat([
            names.select("i", pl.col("a").alias("name"), pl.col("b").alias("other")),
            names.select("i", pl.col("b").alias("name"), pl.col("a").alias("other")),
        ]).join(self.aliases, on="other").filter(
            # a slip keeps the first letter and the length within two (most alias pairs fail this cheaply)
            (pl.col("name").str.slice(0, 1) == pl.col("alias").str.slice(0, 1))
            & ((pl.col("name").str.len_chars() - pl.col("alias").str.len_chars()).abs() <= 2)
        )
        out = np.zeros(len(fa), dtype=bool)
        if cand.height:
            la, ra = cand["name"].to_numpy(), cand["alias"].to_numpy()
            near = _spelt_close(la, ra)
            out[cand["i"].to_numpy()[near]] = True
        return out

    def _compute_vectorized(self, *args: pd.Series) -> np.ndarray:
        fa, alta, pha, sna, fb, altb, phb, snb = (_arr(s) for s in args)
        both = _present(fa) & _present(fb)
        exact = _eq(fa, fb)
        nick = _joined_in(fa, fb, self.nickname_pairs)
        alt = _eq(alta, fb) | _eq(fa, altb) | _eq(alta, altb)
        # one name a prefix of the other (Alf / Alfie, Jo / Joanne), at least two letters
        ta, tb = np.where(both, _text(fa), ""), np.where(both, _text(fb), "")
        la, lb = np.strings.str_len(ta), np.strings.str_len(tb)
        short, long_ = np.where(la <= lb, ta, tb), np.where(la <= lb, tb, ta)
        ls, ll = np.minimum(la, lb), np.maximum(la, lb)
        prefix = (ls >= 2) & np.strings.startswith(long_, short)
        graded = grade_names(fa, fb, pha, phb)
        close = graded >= NAME_LEVELS.index("jaro_winkler_92")
        # a consonant abbreviation (Mtt / Matthew, Zc / Zachary): same first letter, no vowel after
        # it, letters in order (so twins Mia / Matilda stay different)
        abbrev = np.zeros(len(fa), dtype=bool)
        tail = np.strings.slice(short, 1, None)
        vowel = np.zeros(len(fa), dtype=bool)
        for v in "aeiouy":
            vowel |= np.strings.find(tail, v) >= 0
        maybe_abbrev = (ls >= 2) & (short.astype("U1") == long_.astype("U1")) & (ls <= ll - 2) & ~vowel
        rest = np.nonzero(both & ~exact & ~nick & ~alt & ~prefix & ~close)[0]
        for i in np.nonzero(both & ~exact & ~nick & ~alt & ~prefix & ~close & maybe_abbrev)[0]:
            it = iter(long_[i])
            abbrev[i] = all(ch in it for ch in short[i])
        still = rest[~abbrev[rest]]
        alias_close = np.zeros(len(fa), dtype=bool)
        alias_close[still] = self._alias_close(fa[still], fb[still])
        crossing = _crossing(fa, sna, fb, snb)
        swapped = _swapped(fa, sna, fb, snb, self.nickname_pairs, crossing)
        levels = LEVELS["forename"]
        out = graded.copy()
        out[alias_close & (out < levels.index("jaro_winkler_92"))] = levels.index("jaro_winkler_92")
        out[(nick | alt | prefix | abbrev) & ~exact] = levels.index("nickname_or_alt")
        out[exact] = levels.index("exact")
        out[swapped] = levels.index("swapped")
        # only where the straight forename disagrees and the names are not swapped: the rest keep their level
        maybe = np.nonzero(~swapped & (out < levels.index("jaro_winkler_92")))[0]
        crossed = _crossed(fa[maybe], sna[maybe], fb[maybe], snb[maybe], crossing[maybe])
        out[maybe[crossed]] = levels.index("crossed")
        return out


class SurnameLevels(BaseCompareFeature):
    """Surname: graded (:data:`NAME_LEVELS`) / token (a part of a multi-part surname shared) / exact / swapped.

    Left and right columns: ``sn``, ``sn_first``, ``sn_last``, ``sn_ph``, ``fn``.
    """

    def __init__(self, nickname_pairs: frozenset[str] = frozenset(), label: str = "surname") -> None:
        cols = ["sn", "sn_first", "sn_last", "sn_ph", "fn"]
        super().__init__(cols, cols, label=label)
        self.nickname_pairs = nickname_pairs

    def _compute_vectorized(self, *args: pd.Series) -> np.ndarray:
        sa, fa, la, pha, fna, sb, fb, lb, phb, fnb = (_arr(s) for s in args)
        both = _present(sa) & _present(sb)
        exact = _eq(sa, sb)
        # "shaw walker" vs "walker": a part of one equals the other whole, or parts are shared
        partial = (
            _eq(fa, sb) | _eq(la, sb) | _eq(sa, fb) | _eq(sa, lb)
            | _eq(fa, fb) | _eq(fa, lb) | _eq(la, fb) | _eq(la, lb)
        ) & ~exact
        swapped = _swapped(fna, sa, fnb, sb, self.nickname_pairs, _crossing(fna, sa, fnb, sb))
        levels = LEVELS["surname"]
        out = grade_names(sa, sb, pha, phb)
        out[both & partial] = levels.index("token")
        out[exact] = levels.index("exact")
        out[swapped] = levels.index("swapped")
        return out


class DobLevels(BaseCompareFeature):
    """DOB: exact / day-month swapped / one digit off (or two adjacent digits transposed) /
    same year only / born within ten years / different (further apart). Columns ``dob_s`` (ddmmyyyy)."""

    def __init__(self, label: str = "dob") -> None:
        super().__init__("dob_s", "dob_s", label=label)

    def _compute_vectorized(self, a: pd.Series, b: pd.Series) -> np.ndarray:
        da, db = _arr(a), _arr(b)
        both = _present(da) & _present(db)
        fa = np.where(both, da, "00000000")
        fb = np.where(both, db, "00000000")
        # the eight digits of each side as a byte matrix: every test below is whole-array
        ua = np.frombuffer("".join(fa).encode(), dtype=np.uint8).reshape(-1, 8)
        ub = np.frombuffer("".join(fb).encode(), dtype=np.uint8).reshape(-1, 8)
        diff = ua != ub
        hd = diff.sum(axis=1)
        exact = both & (hd == 0)
        swap = both & ~exact & (ua[:, [2, 3, 0, 1, 4, 5, 6, 7]] == ub).all(axis=1)
        # adjacent transposition: exactly two differing positions next to each other, swapped
        two = hd == 2
        trans = np.zeros(len(fa), dtype=bool)
        for j in range(7):
            pos = two & diff[:, j] & diff[:, j + 1]
            trans |= pos & (ua[:, j] == ub[:, j + 1]) & (ua[:, j + 1] == ub[:, j])
        one = both & ~exact & ((hd == 1) | trans)
        year = both & ~diff[:, 4:].any(axis=1)
        place = np.array([1000, 100, 10, 1])
        years_apart = np.abs(((ua[:, 4:].astype(np.int64) - 48) * place).sum(axis=1)
                             - ((ub[:, 4:].astype(np.int64) - 48) * place).sum(axis=1))
        levels = LEVELS["dob"]
        out = np.full(len(fa), MISSING, dtype=np.int8)
        out[both] = levels.index("different")
        out[both & (years_apart <= 10)] = levels.index("within_10_years")
        out[year & ~exact] = levels.index("year_only")
        out[one] = levels.index("one_digit")
        out[swap] = levels.index("day_month_swapped")
        out[exact] = levels.index("exact")
        return out


class ExactLevels(BaseCompareFeature):
    """Two-level exact comparison (different / same) of one column; missing when either is null."""

    def __init__(self, column: str, label: str) -> None:
        super().__init__(column, column, label=label)

    def _compute_vectorized(self, a: pd.Series, b: pd.Series) -> np.ndarray:
        xa, xb = _arr(a), _arr(b)
        both = _present(xa) & _present(xb)
        out = np.full(len(xa), MISSING, dtype=np.int8)
        out[both] = 0
        out[_eq(xa, xb)] = 1
        return out


class LocationLevels(BaseCompareFeature):
    """Where the two records live, postcode and first address line together (they are far from
    independent: a household shares both).

    Levels: postcode and address / address only (postcode differs or is missing) / same postcode /
    same street (house number differs or is missing on one side) / same sector / same outward code /
    different. The address agrees when the folded lines are equal, or the streets (spaces removed) agree or
    have Jaro-Winkler ≥ 0.92 and the house numbers agree (or neither has one). An address line that is a house
    number alone says nothing about the street: the address part is then missing. Columns ``pc``, ``pc_sector``,
    ``pc_out``, ``addr``, ``addr_num``, ``street``, ``street4``.
    """

    def __init__(self, label: str = "location") -> None:
        cols = ["pc", "pc_sector", "pc_out", "addr", "addr_num", "street", "street4"]
        super().__init__(cols, cols, label=label)

    def _compute_vectorized(self, *args: pd.Series) -> np.ndarray:
        pa, seca, outa, ada, na, sta, _, pb, secb, outb, adb, nb, stb, _ = (_arr(s) for s in args)
        pc_both = _present(pa) & _present(pb)
        # an address line that is a house number alone ("7") cannot agree or differ by street: missing
        ad_both = _present(ada) & _present(adb) & (np.strings.str_len(_text(sta)) > 0) & (
            np.strings.str_len(_text(stb)) > 0)
        # the street with spaces removed ("aspinal ls treet" is "aspinall street"); one house only when the
        # numbers agree or neither line has one
        same_street = _eq(sta, stb) | (_jw(sta, stb) >= 0.92)
        same_number = _eq(na, nb) | (~_present(na) & ~_present(nb))
        addr = ad_both & (_eq(ada, adb) | (same_street & same_number))
        street = ad_both & ~addr & same_street
        pc = _eq(pa, pb)
        levels = LEVELS["location"]
        out = np.full(len(pa), MISSING, dtype=np.int8)
        out[pc_both | ad_both] = levels.index("different")
        out[_eq(outa, outb)] = levels.index("outward")
        out[_eq(seca, secb)] = levels.index("sector")
        out[street & ~pc] = levels.index("street")
        out[pc] = levels.index("postcode")
        out[addr & ~pc] = levels.index("address_only")
        out[addr & pc] = levels.index("postcode_and_address")
        return out


@dataclass(frozen=True)
class CompareSpec:
    """Which comparisons to compute (all by default)."""

    comparisons: tuple[str, ...] = tuple(COMPARISONS)


def build_compare(nickname_pairs: frozenset[str], spec: CompareSpec | None = None) -> rl.Compare:
    """Assemble the recordlinkage ``Compare`` object with every comparison feature.

    Args:
        nickname_pairs: ``"a|b"`` strings of names sharing an alias group.
        spec: optional subset of comparisons.
    """
    spec = spec or CompareSpec()
    features: dict[str, BaseCompareFeature] = {
        "forename": ForenameLevels(nickname_pairs),
        "surname": SurnameLevels(nickname_pairs),
        "dob": DobLevels(),
        "location": LocationLevels(),
        "nhs": ExactLevels("nhs", "nhs"),
        "sex": ExactLevels("sex", "sex"),
    }
    comp = rl.Compare(n_jobs=1)
    for name in spec.comparisons:
        comp.add(features[name])
    return comp


def compare_pairs(
    pairs: pd.MultiIndex, records: pd.DataFrame, nickname_pairs: frozenset[str], chunk: int = 200_000,
    spec: CompareSpec | None = None,
) -> pd.DataFrame:
    """Compute the level of every comparison for every candidate pair.

    Args:
        pairs: MultiIndex of (uid_l, uid_r) into ``records``.
        records: the standardised records as pandas, indexed by ``uid``.
        nickname_pairs: alias pairs, see :func:`build_compare`.
        chunk: pairs per recordlinkage call (bounds memory).
        spec: the comparisons to compute (default: all).

    Returns:
        A frame indexed like ``pairs`` with one int8 column per comparison.
    """
    spec = spec or CompareSpec()
    comp = build_compare(nickname_pairs, spec)
    if len(pairs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.int8) for c in spec.comparisons}, index=pairs)
    parts = [comp.compute(pairs[i : i + chunk], records) for i in range(0, len(pairs), chunk)]
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    return out.astype(np.int8)
