"""Clustering accepted links into persons, with guards.

Links are added strongest first (Kruskal order) with a union–find; a link that would put two
records into one person against a guard is cut instead, and the reason recorded. Because the
guards only ever get stricter as clusters grow, this is the same as splitting each over-merged
connected component on its weakest links.

Guards:
- ``twins``: same DOB, surname and address, clearly different forenames, NHS numbers not equal, and
  evidence of a twin (:mod:`linkage.evidence`, or two different NHS numbers) (pair level, never merged).
- ``namesake``: same forename and surname, DOBs not explainable by one mistyped digit or a day/month
  swap, and either birth years ≥ ``namesake_min_years`` apart (parent and child sharing a name) or
  living at the same address, born two or more years apart, with no NHS number in common; and evidence
  of two people of that name (:mod:`linkage.evidence`, or two different NHS numbers).
- ``twins_doubt`` / ``namesake_doubt``: a twin-shaped pair, or the same names born a generation apart
  (``namesake_min_years``) at one address, without evidence of its own, on a night whose records hold such
  people within a source (:attr:`GuardEvidence.twins_seen`, ``namesakes_seen``): never linked, put to
  clerical review. Where the records show no families at all the model decides.
  Without evidence neither guard fires: the model decides, and clerical review takes the doubtful pairs.
- ``nhs_conflict``: the two clusters hold different NHS numbers that are both verified, or hold
  different numbers (none in common) and the link is not strong enough without the NHS comparison.
- ``same_source``: two records of one source that never holds duplicates.
- ``same_source_dob``: two records of one source that disagree on DOB.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ground.allocation import gc_paused
from linkage.compare import LEVELS
from linkage.evidence import NAMESAKE_KEY, TWIN_KEY, GuardEvidence


def _lvl(comp: str, name: str) -> int:
    return LEVELS[comp].index(name)


def _lvls(comp: str, *names: str) -> list[int]:
    return [_lvl(comp, n) for n in names]


def _evident(records: pl.DataFrame, evidence: GuardEvidence) -> pl.DataFrame:
    """Per record: whether its twins key and its namesake key have evidence of a second person."""
    rec = records.select("uid", *{*TWIN_KEY, *NAMESAKE_KEY})
    twins = rec.join(evidence.twins.with_columns(pl.lit(True).alias("twin_evident")), on=list(TWIN_KEY), how="left")
    both = twins.join(evidence.namesakes.with_columns(pl.lit(True).alias("namesake_evident")),
                      on=list(NAMESAKE_KEY), how="left")
    return both.select("uid", pl.col("twin_evident").fill_null(False), pl.col("namesake_evident").fill_null(False))


def pair_guards(scored: pl.DataFrame, records: pl.DataFrame, namesake_min_years: int = 12,
                evidence: GuardEvidence | None = None) -> pl.DataFrame:
    """Flag candidate pairs that must never be linked directly (``guard`` column, null if none).

    Args:
        scored: pairs with ``uid_l``, ``uid_r`` and comparison level columns.
        records: standardised records (``uid``, ``dob_y``, ``nhs``, ``nhs_verified``, ``sn``, ``dob_s``,
            ``fn_key``).
        namesake_min_years: minimum birth-year gap for the namesake guard.
        evidence: keys with evidence of twins or namesakes (default: none, so those guards need two
            different NHS numbers).
    """
    flags = _evident(records, evidence or GuardEvidence.none())
    seen = evidence or GuardEvidence.none()
    rec = records.select("uid", "dob_y", "nhs", "nhs_verified").join(flags, on="uid", how="left")
    df = scored.join(rec.rename({c: f"{c}_l" for c in rec.columns}), on="uid_l", how="left").join(
        rec.rename({c: f"{c}_r" for c in rec.columns}), on="uid_r", how="left"
    )
    same_place = pl.col("location") >= _lvl("location", "postcode")
    nhs_equal = (pl.col("nhs_l").is_not_null() & (pl.col("nhs_l") == pl.col("nhs_r"))).fill_null(False)
    nhs_differ = (pl.col("nhs_l") != pl.col("nhs_r")).fill_null(False)
    both_nhs_differ = (pl.col("nhs_l").is_not_null() & pl.col("nhs_r").is_not_null() & nhs_differ).fill_null(False)
    twin_evident = (pl.col("twin_evident_l") | pl.col("twin_evident_r")).fill_null(False)
    twin_pattern = (
        (pl.col("dob") == _lvl("dob", "exact"))
        # gendered surnames (Dąbrowska / Dąbrowski) are spelt alike
        & pl.col("surname").is_in(_lvls("surname", "exact", "token", "one_edit", "jaro_winkler_92"))
        & same_place
        & ~nhs_equal
    )
    differ = pl.col("forename").is_in(_lvls("forename", "different", "phonetic", "jaro_winkler_80", "crossed"))
    twins = twin_pattern & (
        (differ & (twin_evident | both_nhs_differ))
        # close or alias forenames (Cian / Ian; a twin's middle name) with two different numbers
        | (pl.col("forename").is_in(_lvls("forename", "jaro_winkler_92", "one_edit", "nickname_or_alt"))
           & both_nhs_differ)
    )
    # tonight's records hold twins somewhere (one source with two children of one surname, birth date and
    # place): a twin-shaped pair without evidence of its own is doubtful, not linked but reviewed
    twins_doubt = twin_pattern & differ & pl.lit(seen.twins_seen)
    names_agree = pl.col("forename").is_in(
        [_lvl("forename", "exact"), _lvl("forename", "nickname_or_alt")]
    ) & pl.col("surname").is_in([_lvl("surname", "exact"), _lvl("surname", "token")])
    namesake_evident = (pl.col("namesake_evident_l") | pl.col("namesake_evident_r")).fill_null(False)
    not_a_typo = ~pl.col("dob").is_in([_lvl("dob", "one_digit"), _lvl("dob", "day_month_swapped")])
    generation_apart = (pl.col("dob_y_l") - pl.col("dob_y_r")).abs() >= namesake_min_years
    namesakes = names_agree & not_a_typo & ~nhs_equal
    namesake = namesakes & (namesake_evident | both_nhs_differ) & (
        generation_apart
        # two people of one name under one roof, born years apart
        | (same_place & pl.col("dob").is_in(_lvls("dob", "different", "within_10_years"))
           & ((pl.col("dob_y_l") - pl.col("dob_y_r")).abs() >= 2))
    )
    # a generation apart under one roof without further evidence (a parent and the child named after them,
    # or one record's date of birth replaced), where tonight's records hold such namesakes: reviewed
    namesake_doubt = namesakes & same_place & generation_apart & pl.lit(seen.namesakes_seen)
    nhs_conflict = (
        pl.col("nhs_verified_l").fill_null(False)
        & pl.col("nhs_verified_r").fill_null(False)
        & (pl.col("nhs_l") != pl.col("nhs_r"))
    )
    guard = (
        pl.when(twins)
        .then(pl.lit("twins"))
        .when(namesake)
        .then(pl.lit("namesake"))
        .when(namesake_doubt)
        .then(pl.lit("namesake_doubt"))
        .when(twins_doubt)
        .then(pl.lit("twins_doubt"))
        .when(nhs_conflict)
        .then(pl.lit("nhs_conflict"))
        .otherwise(None)
    )
    return df.with_columns(guard.alias("pair_guard")).drop(
        *[f"{c}_{side}" for c in ("dob_y", "nhs", "nhs_verified", "twin_evident", "namesake_evident")
          for side in "lr"]
    )


@dataclass
class ClusterResult:
    """Cluster label per record uid and per-edge outcome."""

    labels: np.ndarray
    accepted: np.ndarray  # bool per input link: used in a cluster
    cut_reason: list[str | None]
    guard_counts: Counter = field(default_factory=Counter)


class _Comp:
    __slots__ = ("dobs_by_source", "members", "nhs", "nhs_all")

    def __init__(self, uid: int, source: str, dob: object, nhs: str | None, nhs_all: str | None) -> None:
        self.members = [uid]
        self.nhs: set[str] = {nhs} if nhs else set()
        self.nhs_all: set[str] = {nhs_all} if nhs_all else set()
        self.dobs_by_source: dict[str, set] = {source: {dob}}


@gc_paused()
def cluster_links(
    n_records: int,
    links: pl.DataFrame,
    cannot_link: pl.DataFrame,
    records: pl.DataFrame,
    dedupe_sources: frozenset[str],
    nhs_override_evidence: float = 30.0,
) -> ClusterResult:
    """Union the links strongest first, cutting any link that would break a guard.

    Args:
        n_records: number of records (uids 0..n-1).
        links: pairs above the link threshold without a pair guard: ``uid_l``, ``uid_r``, ``weight``,
            optionally ``forename_agrees`` (the link's own records agree on the forename: a ``twins``
            guard between other members of the two clusters then does not stop it).
        cannot_link: pairs that must not end in one cluster: ``uid_l``, ``uid_r``, ``pair_guard``.
        records: standardised records (``uid``, ``source``, ``dob``, ``nhs``, ``nhs_verified``).
        dedupe_sources: sources that may hold two records of one person (if their DOBs agree).
        nhs_override_evidence: two clusters holding different (unverified) NHS numbers and no number
            in common are only joined by a link whose evidence without the NHS comparison (column
            ``evidence``, bits) reaches this: a mistyped-but-valid number must not veto a strong
            name + DOB + address match, but two namesakes born the same day living apart are not merged.

    Returns:
        The cluster label of each uid (0..k-1), and per link whether it was used and why not.
    """
    # plain lists, not numpy arrays: this loop reads one element at a time, and a numpy scalar per read
    # costs more than the union-find itself
    parent = list(range(n_records))
    src = records["source"].to_list()
    dob = records["dob"].to_list()
    nhs_v = [
        n if v else None
        for n, v in zip(records["nhs"].to_list(), records["nhs_verified"].fill_null(False).to_list(), strict=True)
    ]
    nhs_any = records["nhs"].to_list()
    comps: dict[int, _Comp] = {}
    cl: dict[int, dict[int, str]] = {}
    for a, b, g in cannot_link.select("uid_l", "uid_r", "pair_guard").iter_rows():
        cl.setdefault(a, {})[b] = g
        cl.setdefault(b, {})[a] = g

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def comp(r: int) -> _Comp:
        c = comps.get(r)
        if c is None:
            c = _Comp(r, src[r], dob[r], nhs_v[r], nhs_any[r])
            comps[r] = c
        return c

    order = np.argsort(-links["weight"].to_numpy(), kind="stable").tolist()
    ul = links["uid_l"].to_list()
    ur = links["uid_r"].to_list()
    evidence = (
        links["evidence"].cast(pl.Float64).fill_null(float("nan")).to_list() if "evidence" in links.columns
        else [np.inf] * links.height
    )
    forename_agrees = (
        links["forename_agrees"].fill_null(False).to_list() if "forename_agrees" in links.columns
        else [False] * links.height
    )
    accepted = np.zeros(links.height, dtype=bool)
    reasons: list[str | None] = [None] * links.height
    counts: Counter = Counter()
    for i in order:
        ra, rb = find(ul[i]), find(ur[i])
        if ra == rb:
            accepted[i] = True
            continue
        ca, cb = comp(ra), comp(rb)
        reason = None
        verified_clash = bool(ca.nhs and cb.nhs and ca.nhs != cb.nhs)
        weak_clash = bool(ca.nhs_all and cb.nhs_all and not (ca.nhs_all & cb.nhs_all))
        if verified_clash or (weak_clash and evidence[i] < nhs_override_evidence):
            reason = "nhs_conflict"
        if reason is None:
            for s in ca.dobs_by_source.keys() & cb.dobs_by_source.keys():
                if s not in dedupe_sources:
                    reason = "same_source"
                    break
                da = {d for d in ca.dobs_by_source[s] if d is not None}
                db = {d for d in cb.dobs_by_source[s] if d is not None}
                if da and db and da != db:
                    reason = "same_source_dob"
                    break
        if reason is None:
            small, other = (ca, rb) if len(ca.members) <= len(cb.members) else (cb, ra)
            for m in small.members:
                for nb, g in cl.get(m, {}).items():
                    # a twin differs in forename from every record of the other: a link whose two records
                    # agree on it shows that one record's other forename is a slip, not a twin
                    if g == "twins" and forename_agrees[i]:
                        continue
                    if find(nb) == other:
                        reason = g
                        break
                if reason:
                    break
        if reason is not None:
            reasons[i] = reason
            counts[reason] += 1
            continue
        accepted[i] = True
        if len(ca.members) < len(cb.members):
            ra, rb, ca, cb = rb, ra, cb, ca
        parent[rb] = ra
        ca.members.extend(cb.members)
        ca.nhs |= cb.nhs
        ca.nhs_all |= cb.nhs_all
        for s, ds in cb.dobs_by_source.items():
            ca.dobs_by_source.setdefault(s, set()).update(ds)
        del comps[rb]
    roots = np.array([find(i) for i in range(n_records)], dtype=np.int64)
    _, labels = np.unique(roots, return_inverse=True)
    return ClusterResult(labels=labels, accepted=accepted, cut_reason=reasons, guard_counts=counts)
