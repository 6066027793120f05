"""Resolve mentions (related people, named children, dependants) to linked persons.

Two steps, both vectorised polars joins:

1. **Evidence.** A mention is compared with people records by the same comparison features and
   Fellegi–Sunter model as record pairs. Its address context is every address of the owner's person
   (postcode, first address line); a forename-only mention borrows the owner's surname. A mention
   giving one name only (in either field) is also tried the other way round: the name as the surname
   with no forename (``O'Brien`` written as the forename, surname blank). The confidence is the
   posterior probability of the best person among all persons (Bayes over the Fellegi–Sunter
   likelihood ratios, with a prior that the mentioned person has a record at all), so a second
   plausible person lowers it.
2. **Connections, then unique name.** A mention still unresolved (no person reached the confidence
   floor) resolves, with :data:`CONNECTED_CONFIDENCE`, to the one person *connected* to the owner
   whose forename agrees: named by another of the owner's mentions, naming the owner in one of
   theirs, or living with the owner or with one of those (a household: same postcode and first
   address line; a housemate must also carry the surname the mention gives). Failing that, with
   :data:`NAME_ONLY_CONFIDENCE`, to the one person in the county carrying its full name (forename
   as written before its nicknames, surname exact or a part of a hyphenated one, or the two
   swapped) who fits the relationship; among several such persons only to the one sharing an
   address of the owner. A surname borrowed from the owner does not count here (the child may
   carry another one).

In both steps a person must fit the relationship: the owner's own person is never a candidate; a
child of the owner (named children, dependants, ``Son`` / ``Daughter``) must be born at least
``CHILD_GAP_YEARS`` after the owner and be under ``CHILD_MAX_AGE`` (counted from the latest date of
birth in the night's records); a mother or father at least that much before the owner; step-parents,
partners and other relatives only not on the wrong side of the owner's birth; a gendered relationship
(``Mother``, ``Son`` …) excludes a person whose records all carry the other sex. A person or owner
with no date of birth is not constrained by it.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import polars as pl

from linkage.blocking import BlockingPass, key_hash
from linkage.compare import COMPARISONS, CompareSpec, compare_pairs
from linkage.frames import COMPARE_COLUMNS, levels_to_polars, pairs_index, to_recordlinkage
from linkage.model import FSModel, score
from linkage.standardise import nickname_canonical, standardise_people

log = logging.getLogger(__name__)

MENTION_PASSES: tuple[BlockingPass, ...] = (
    BlockingPass("nhs", ("nhs",)),
    # name-only evidence cannot single out one person in a county: names need a place or a year
    BlockingPass("names_outward", ("fn_key", "sn_ph", "pc_out")),
    BlockingPass("names_birth_year", ("fn_key", "sn_ph", "dob_y")),
    BlockingPass("dob_surname", ("dob_s", "sn_ph")),
    BlockingPass("dob_forename", ("dob_s", "fn_key")),
    BlockingPass("postcode_forename", ("pc", "fn_key")),
    # a mistyped forename (or none) at one of the owner's postcodes
    BlockingPass("postcode_surname", ("pc", "sn_ph")),
    # a changed surname or swapped names at one of the owner's postcodes, with a birth year
    BlockingPass("postcode_birth_year", ("pc", "dob_y")),
    BlockingPass("swapped", ("fn_ph", "sn_ph", "pc_out"), ("sn_ph", "fn_ph", "pc_out")),
)
MAX_CANDIDATES_PER_KEY = 100

#: A child of the owner is born at least this many years after the owner; a parent this many before.
CHILD_GAP_YEARS = 12
#: A named child or dependant is younger than this (at the latest date of birth in the records).
CHILD_MAX_AGE = 25
#: Confidence given to a child mention resolved by its full name alone (step 2). Calibrated: on ten
#: generated counties (5 000 households seeds 21-27, 20 000 seeds 31-33) 51 of 56 such picks were right;
#: at the rules' link threshold (0.9), so findings resting on it count without confirmation.
NAME_ONLY_CONFIDENCE = 0.9
#: Step 2 does not override a step-1 person at least this probable (other than its own pick).
NAME_ONLY_MAX_RIVAL = 0.3
#: Confidence given to a mention resolved to the one person connected to the owner (a resolved
#: mention joins the two, or they share a household) carrying its forename: 677 of 678 right on the
#: same counties.
CONNECTED_CONFIDENCE = 0.95
#: An address (postcode and first line) shared by more people than this is not taken as a household.
MAX_HOUSEHOLD = 10

_DAYS_PER_YEAR = 365.25


def _relationship_exprs() -> list[pl.Expr]:
    """``_younger`` (the mentioned person is the owner's child), ``_older``, ``_gap`` (minimum years
    between the two births, 0 = only the order) and ``_sex_req`` (``M``/``F``/null) of a mention."""
    rel = pl.col("relationship").cast(pl.Utf8).fill_null("").str.to_lowercase().str.strip_chars()
    kind = pl.col("kind").cast(pl.Utf8).fill_null("")
    partner = rel.str.starts_with("partner")
    step = rel.str.contains(r"step|foster|\bother\b|in law|partner")
    child_word = rel.str.contains(r"\b(son|daughter|child|stepson|stepdaughter|children)\b")
    younger = (kind.is_in(["named_child", "dependant"]) & ~rel.str.contains("mother|father|parent|grand")) | (
        (kind == "related_person") & child_word
    )
    older = ~younger & rel.str.contains("mother|father|parent|grand|carer|guardian|partner")
    gap = (
        pl.when(step).then(0)
        .when(rel.str.contains("grand")).then(2 * CHILD_GAP_YEARS)
        .otherwise(CHILD_GAP_YEARS)
    )
    female = rel.str.contains(r"mother|daughter|sister|aunt|niece|wife|\bmum\b|grandmother")
    male = rel.str.contains(r"father|\bson\b|stepson|brother|uncle|nephew|husband|\bdad\b|grandfather")
    sex_req = (
        pl.when(partner).then(None)
        .when(female & ~male).then(pl.lit("F"))
        .when(male & ~female).then(pl.lit("M"))
        .otherwise(None)
    )
    return [younger.alias("_younger"), older.alias("_older"), gap.alias("_gap"), sex_req.alias("_sex_req")]


def _person_facts(people_std: pl.DataFrame, person_ids: pl.DataFrame) -> pl.DataFrame:
    """Per person: earliest / latest date of birth (days since 1970) and the sexes on its records."""
    return (
        people_std.select("uid", "dob", "sex")
        .join(person_ids, on="uid")
        .group_by("person_id")
        .agg(
            pl.col("dob").min().cast(pl.Int32).alias("_dmin"),
            pl.col("dob").max().cast(pl.Int32).alias("_dmax"),
            (pl.col("sex") == "M").any().alias("_m"),
            (pl.col("sex") == "F").any().alias("_f"),
        )
    )


def _plausible(frame: pl.DataFrame, facts: pl.DataFrame, ref_day: int | None) -> pl.DataFrame:
    """Keep (mention, person) rows whose person fits the mention's relationship.

    ``frame`` has ``person_id`` and the mention's ``_younger``, ``_older``, ``_gap``, ``_sex_req``,
    ``_odmin``, ``_odmax`` (owner's dates of birth as days)."""
    f = frame.join(facts, on="person_id", how="left")
    gap_days = pl.col("_gap") * _DAYS_PER_YEAR
    young_ok = (pl.col("_dmax") - pl.col("_odmin") >= gap_days).fill_null(True)
    if ref_day is not None:
        young_ok = young_ok & (pl.col("_dmax") >= ref_day - CHILD_MAX_AGE * _DAYS_PER_YEAR).fill_null(True)
    old_ok = (pl.col("_odmax") - pl.col("_dmin") >= gap_days).fill_null(True)
    sex_ok = (
        pl.when(pl.col("_sex_req") == "M").then(pl.col("_m") | ~pl.col("_f"))
        .when(pl.col("_sex_req") == "F").then(pl.col("_f") | ~pl.col("_m"))
        .otherwise(True)
    ).fill_null(True)
    ok = pl.when(pl.col("_younger")).then(young_ok).when(pl.col("_older")).then(old_ok).otherwise(True) & sex_ok
    return f.filter(ok).drop("_dmin", "_dmax", "_m", "_f")


def _mention_people_frame(mentions: pl.DataFrame, people: pl.DataFrame, person_ids: pl.DataFrame) -> pl.DataFrame:
    """Mentions laid out as people rows, one per record of the owner's person (its addresses are
    the context), the owner's surname filling a blank surname. ``record_id`` is the mention index.

    A mention giving one name only yields three rows per context: the name as the forename with the
    owner's surname, as the forename with no surname, and as the surname with no forename.
    ``_borrowed`` marks a row whose surname is the owner's."""
    recs = people.with_row_index("uid").select(
        pl.col("uid").cast(pl.Int64),
        pl.col("source"),
        pl.col("record_id").cast(pl.Utf8),
        pl.col("surname"),
        pl.col("postcode"),
        pl.col("address_line1"),
    )
    recs = recs.join(person_ids, on="uid", how="left")
    owner = recs.select(
        "source",
        pl.col("record_id").alias("owner_record_id"),
        pl.col("surname").alias("_owner_surname"),
        pl.col("person_id").alias("_owner_pid"),
    ).unique(subset=["source", "owner_record_id"], keep="first")
    context = recs.select(
        pl.col("person_id").alias("_owner_pid"),
        pl.col("postcode").alias("_ctx_postcode"),
        pl.col("address_line1").alias("_ctx_address"),
    ).unique()
    m = mentions.with_row_index("_mid").with_columns(pl.col("owner_record_id").cast(pl.Utf8))
    m = m.join(owner, on=["source", "owner_record_id"], how="left")
    m = m.join(context, on="_owner_pid", how="left")

    def given(c: str) -> pl.Expr:
        v = pl.col(c).cast(pl.Utf8).str.strip_chars()
        return pl.when(v.str.len_chars() > 0).then(v).otherwise(None)

    m = m.with_columns(given("forename").alias("_fn"), given("surname").alias("_sn"))
    single = pl.col("_fn").is_null() != pl.col("_sn").is_null()
    name = pl.coalesce("_fn", "_sn")
    common = [
        pl.lit("~mention").alias("source"),
        pl.col("_mid").cast(pl.Utf8).alias("record_id"),
    ]
    tail = [
        pl.col("dob").cast(pl.Date),
        pl.col("nhs_number").cast(pl.Utf8) if "nhs_number" in m.columns else pl.lit(None, dtype=pl.Utf8).alias(
            "nhs_number"),
        pl.col("_ctx_postcode").alias("postcode"),
        pl.col("_ctx_address").alias("address_line1"),
    ]
    # as written (a blank surname borrowed from the owner)
    main = m.select(
        *common,
        pl.col("_fn").alias("forename"),
        pl.coalesce("_sn", "_owner_surname").alias("surname"),
        *tail,
        (pl.col("_sn").is_null() & pl.col("_fn").is_not_null()).alias("_borrowed"),
    )
    ones = m.filter(single)
    # one name only: as the forename (owner's surname) and as the surname (no forename)
    as_forename = ones.filter(pl.col("_fn").is_null()).select(
        *common, name.alias("forename"), pl.col("_owner_surname").alias("surname"), *tail,
        pl.lit(True).alias("_borrowed"),
    )
    as_surname = ones.filter(pl.col("_sn").is_null()).select(
        *common, pl.lit(None, dtype=pl.Utf8).alias("forename"), name.alias("surname"), *tail,
        pl.lit(False).alias("_borrowed"),
    )
    # a forename alone: also with no surname at all (the borrowed one is only a guess)
    no_surname = ones.filter(pl.col("_sn").is_null()).select(
        *common, name.alias("forename"), pl.lit(None, dtype=pl.Utf8).alias("surname"), *tail,
        pl.lit(False).alias("_borrowed"),
    )
    return pl.concat([main, as_forename, as_surname, no_surname], how="vertical_relaxed")


def _mention_candidates(mstd: pl.DataFrame, pstd: pl.DataFrame) -> pl.DataFrame:
    frames = []
    for bp in MENTION_PASSES:
        left = mstd.select("uid", key_hash(list(bp.keys)).alias("_h")).drop_nulls("_h")
        right = pstd.select("uid", key_hash(list(bp.right or bp.keys)).alias("_h")).drop_nulls("_h")
        small = right.group_by("_h").agg(pl.len().alias("_n")).filter(pl.col("_n") <= MAX_CANDIDATES_PER_KEY)
        right = right.join(small.select("_h"), on="_h", how="semi")
        frames.append(left.join(right, on="_h", suffix="_r").select(pl.col("uid").alias("uid_l"), pl.col("uid_r")))
    if not frames:
        return pl.DataFrame(schema={"uid_l": pl.Int64, "uid_r": pl.Int64})
    return pl.concat(frames).unique()


def _co_residents(people_std: pl.DataFrame, person_ids: pl.DataFrame) -> pl.DataFrame:
    """``(person_id, co_person_id)``: distinct persons with a record at the same postcode and first
    address line (a household), at addresses shared by at most :data:`MAX_HOUSEHOLD` persons."""
    at = (
        people_std.select("uid", "pc", "addr").drop_nulls().join(person_ids, on="uid")
        .select("pc", "addr", "person_id").unique()
    )
    at = at.filter(pl.len().over("pc", "addr") <= MAX_HOUSEHOLD)
    return (
        at.join(at.rename({"person_id": "co_person_id"}), on=["pc", "addr"])
        .filter(pl.col("person_id") != pl.col("co_person_id"))
        .select("person_id", "co_person_id")
        .unique()
    )


def _connected(named: pl.DataFrame, co_residents: pl.DataFrame) -> pl.DataFrame:
    """``(owner_person_id, person_id, _house)``: persons connected to an owner — named by one of the
    owner's mentions, naming the owner in one of theirs, or (``_house``) living with the owner or with
    one of those (a sibling the owner named too lives with the ones already found).

    Args:
        named: ``(owner_person_id, _m)`` resolved mentions.
        co_residents: :func:`_co_residents`.
    """
    direct = pl.concat([
        named.select(pl.col("_m").alias("owner_person_id"), pl.col("owner_person_id").alias("person_id")),
        named.select("owner_person_id", pl.col("_m").alias("person_id")),
    ]).unique()
    with_owner = co_residents.rename({"person_id": "owner_person_id", "co_person_id": "person_id"})
    with_named = direct.join(co_residents, on="person_id").select(
        "owner_person_id", pl.col("co_person_id").alias("person_id"))
    house = pl.concat([with_owner, with_named]).join(direct, on=["owner_person_id", "person_id"], how="anti")
    return pl.concat([
        direct.with_columns(pl.lit(False).alias("_house")),
        house.with_columns(pl.lit(True).alias("_house")),
    ]).filter(pl.col("owner_person_id") != pl.col("person_id")).unique()


def _not_already_listed(
    picks: pl.DataFrame, resolved: pl.DataFrame, picked: pl.DataFrame, lists: pl.DataFrame
) -> pl.DataFrame:
    """Drop step-2 picks of a person another row of the same list already names: one list names a
    person once (the stepfather at home is not also the father living elsewhere).

    Args:
        picks: ``(mid, pid, _c2)`` this round's picks.
        resolved: mentions with ``mid`` and step 1's ``mentioned_person_id``.
        picked: earlier rounds' picks ``(mid, pid, _c2)``.
        lists: ``(mid, source, owner_record_id)``: the list each mention is a row of.
    """
    named_in_list = pl.concat([
        resolved.select("mid", pl.col("mentioned_person_id").alias("pid")).drop_nulls(),
        picked.select("mid", "pid"),
    ]).join(lists, on="mid").rename({"mid": "_other"})
    taken = (
        picks.join(lists, on="mid").join(named_in_list, on=["source", "owner_record_id", "pid"])
        .filter(pl.col("_other") != pl.col("mid")).select("mid").unique()
    )
    return picks.join(taken, on="mid", how="anti")


def _compare_candidates(allrec: pl.DataFrame, cands: pl.DataFrame, nickname_pairs: frozenset[str]) -> pl.DataFrame:
    """:func:`_compare_distinct`, each mention row compared once with a person record however many rows are alike.

    A pair's levels depend on the compared columns of its two records alone, and many mention rows are alike in
    all of them (one parent named in each child's record, in several services): one row stands for its look-alikes.

    Args:
        allrec: people and mention rows, standardised, ``uid`` 0..n-1.
        cands: ``(uid_l, uid_r)``: mention uid, person-record uid.
        nickname_pairs: alias pairs for the forename comparison.

    Returns:
        ``(uid_l, uid_r, *COMPARISONS)``: person-record uid, mention uid and the levels, for the pairs worth scoring.
    """
    cols = [c for c in COMPARE_COLUMNS if c in allrec.columns]
    mentions = allrec.join(cands.select(pl.col("uid_l").alias("uid")).unique(), on="uid", how="semi")
    alike = mentions.select("uid", pl.col("uid").min().over(cols).alias("_alike"))
    cands = cands.join(alike.rename({"uid": "uid_l"}), on="uid_l")
    distinct = cands.select(pl.col("_alike").alias("uid_l"), "uid_r").unique()
    levels = _compare_distinct(allrec, distinct, nickname_pairs).rename({"uid_r": "_alike"})
    return (cands.select(pl.col("uid_r").alias("uid_l"), "_alike", pl.col("uid_l").alias("uid_r"))
            .join(levels, on=["uid_l", "_alike"]).select("uid_l", "uid_r", *COMPARISONS))


def _compare_distinct(allrec: pl.DataFrame, cands: pl.DataFrame, nickname_pairs: frozenset[str]) -> pl.DataFrame:
    """Comparison levels of (person record, mention) candidate pairs worth scoring.

    A forename that disagrees needs the NHS number: the owner's household shares surname and address,
    and a twin the date of birth too. Those pairs are dropped after comparing forename and NHS number
    alone, before the other comparisons (most candidates from the owner's postcode are such).

    Args:
        allrec: people and mention rows, standardised, ``uid`` 0..n-1.
        cands: ``(uid_l, uid_r)``: mention uid, person-record uid.
        nickname_pairs: alias pairs for the forename comparison.
    """
    pairs = cands.select(pl.col("uid_r").alias("uid_l"), pl.col("uid_l").alias("uid_r"))
    pdf, idx = to_recordlinkage(allrec, pairs)
    first = levels_to_polars(compare_pairs(idx, pdf, nickname_pairs, spec=CompareSpec(("forename", "nhs"))))
    kept = first.filter(~((pl.col("forename") == 0) & (pl.col("nhs") != 1)))
    rest = tuple(c for c in COMPARISONS if c not in ("forename", "nhs"))
    more = levels_to_polars(compare_pairs(pairs_index(kept), pdf, nickname_pairs, spec=CompareSpec(rest)))
    return kept.join(more, on=["uid_l", "uid_r"], how="left").select("uid_l", "uid_r", *COMPARISONS)


def _name_keys(std: pl.DataFrame, canon: dict[str, str], id_col: str) -> pl.DataFrame:
    """``(id, _fk, _sk)``: nickname-canonical forename and folded surname, every way a record can
    carry its full name (alternative forename, parts of a hyphenated surname, the two swapped)."""
    def key(c: str) -> pl.Expr:
        return pl.col(c).replace_strict(canon, default=pl.col(c), return_dtype=pl.Utf8)

    alt = key("fn_alt")
    sw = key("sn")
    parts = [
        std.select(pl.col(id_col), pl.col("fn_key").alias("_fk"), pl.col(sn).alias("_sk"))
        for sn in ("sn", "sn_first", "sn_last")
    ]
    parts.append(std.select(pl.col(id_col), alt.alias("_fk"), pl.col("sn").alias("_sk")))
    parts.append(std.select(pl.col(id_col), sw.alias("_fk"), pl.col("fn").alias("_sk")))
    return pl.concat(parts).drop_nulls().unique()


def _dob_compatible(hits: pl.DataFrame, people_std: pl.DataFrame, person_ids: pl.DataFrame) -> pl.DataFrame:
    """Keep (mention, person) rows where the mention gives no date of birth or one of the person's
    records shares two of its year, month and day (one part mistyped)."""
    pdob = people_std.select("uid", pl.col("dob").alias("_pdob")).drop_nulls().join(person_ids, on="uid").drop("uid")
    with_dob = hits.filter(pl.col("dob").is_not_null())
    agree = (
        (pl.col("_pdob").dt.year() == pl.col("dob").dt.year()).cast(pl.Int8)
        + (pl.col("_pdob").dt.month() == pl.col("dob").dt.month()).cast(pl.Int8)
        + (pl.col("_pdob").dt.day() == pl.col("dob").dt.day()).cast(pl.Int8)
    )
    near = with_dob.join(pdob, on="person_id").filter(agree >= 2).select(with_dob.columns).unique()
    return pl.concat([hits.filter(pl.col("dob").is_null()), near])


def _dob_fits(per_person: pl.DataFrame, people_std: pl.DataFrame, person_ids: pl.DataFrame) -> pl.DataFrame:
    """:func:`_dob_compatible`, keeping persons no record of which gives a date of birth (nothing to contradict):
    the mother at the owner's address is not the grandmother whose date of birth the mention gives."""
    dated = people_std.filter(pl.col("dob").is_not_null()).select("uid").join(person_ids, on="uid")
    undated = per_person.join(dated.select("person_id").unique(), on="person_id", how="anti")
    return pl.concat([_dob_compatible(per_person, people_std, person_ids), undated])


def _name_only(
    pending: pl.DataFrame,
    mstd: pl.DataFrame,
    people_std: pl.DataFrame,
    person_ids: pl.DataFrame,
    facts: pl.DataFrame,
    ref_day: int | None,
    canon: dict[str, str],
    connected: pl.DataFrame,
) -> pl.DataFrame:
    """Step 2: ``(mid, pid, conf)`` for pending mentions singled out by name.

    * among the persons *connected* to the owner (``connected``: ``owner_person_id``, ``person_id``,
      e.g. a person whose own record names the owner), the only one whose forename agrees
      (nickname-aware; the surname may have changed): :data:`CONNECTED_CONFIDENCE`;
    * for a child of the owner, the only person in the county with its full name (surname as given,
      not borrowed), or the only one of those sharing an address of the owner:
      :data:`NAME_ONLY_CONFIDENCE`.

    Candidates must fit the relationship and, when the mention gives a date of birth, share two of
    its three parts. ``pending`` carries the mention facts (``mid``, ``owner_person_id``,
    ``_younger`` …, ``dob``)."""
    schema = {"mid": pl.Int64, "pid": pl.Utf8, "_c2": pl.Float64}
    named = mstd.filter(pl.col("fn").is_not_null()).join(pending.select("mid"), on="mid", how="semi")
    if named.height == 0:
        return pl.DataFrame(schema=schema)
    pkeys = _name_keys(people_std, canon, "uid").join(person_ids, on="uid").drop("uid").unique()

    def fit(h: pl.DataFrame) -> pl.DataFrame:
        h = h.join(pending, on="mid").filter(
            pl.col("owner_person_id").is_null() | (pl.col("person_id") != pl.col("owner_person_id"))
        )
        h = _plausible(h, facts, ref_day)
        return _dob_compatible(h, people_std, person_ids).select("mid", "person_id").unique()

    # connected persons, forename agreeing; a housemate also by surname when the mention gives one
    fkeys = named.select("mid", pl.col("fn_key").alias("_fk")).unique()
    given_sn = named.filter(~pl.col("_borrowed") & pl.col("sn").is_not_null()).select(
        "mid", pl.col("sn").alias("_sk")).unique()
    conn = (
        fkeys.join(pending.select("mid", "owner_person_id"), on="mid")
        .join(connected, on="owner_person_id")
        .join(pkeys.select("person_id", "_fk").unique(), on=["person_id", "_fk"])
        .select("mid", "person_id", "_house")
        .unique()
    )
    surname_ok = conn.join(given_sn, on="mid").join(pkeys.select("person_id", "_sk").unique(), on=["person_id", "_sk"])
    conn = conn.filter(~pl.col("_house") | ~pl.col("mid").is_in(given_sn["mid"].implode())).select(
        "mid", "person_id").vstack(surname_ok.select("mid", "person_id")).unique()
    conn = fit(conn).group_by("mid").agg(pl.col("person_id").first().alias("pid"), pl.len().alias("_n"))
    conn = conn.filter(pl.col("_n") == 1).select("mid", "pid", pl.lit(CONNECTED_CONFIDENCE).alias("_c2"))

    # children: the full name county-wide
    # (only with an owner of known birth, no date of birth on the mention: a mention whose date of
    # birth disagrees with every record of the name is another child of that name)
    kids = pending.filter(
        pl.col("_younger") & pl.col("dob").is_null() & pl.col("owner_person_id").is_not_null()
        & pl.col("_odmin").is_not_null()
    ).select("mid")
    full = named.filter(~pl.col("_borrowed") & pl.col("sn").is_not_null()).join(kids, on="mid", how="semi")
    mkeys = full.select("mid", pl.col("fn_key").alias("_fk"), pl.col("sn").alias("_sk"), pl.col("fn").alias("_mfn")
                        ).unique()
    exact = people_std.select("uid", pl.col("fn_key").alias("_fk"), pl.col("sn").alias("_sk"), "fn").join(
        person_ids, on="uid").drop("uid").drop_nulls().unique()
    same_fn = (
        mkeys.join(exact, on=["_fk", "_sk"]).group_by("mid", "person_id")
        .agg((pl.col("fn") == pl.col("_mfn")).any().alias("_same_fn"))
    )
    hits = fit(same_fn.select("mid", "person_id")).join(same_fn, on=["mid", "person_id"])
    # "Mia" is the Mia before it is an Amelia: the forename as written, where any person carries it
    hits = hits.filter(pl.col("_same_fn") | ~pl.col("_same_fn").any().over("mid")).select("mid", "person_id")
    places = people_std.select("uid", "pc", "addr").join(person_ids, on="uid")
    where = pl.concat([
        places.select("person_id", pl.lit("pc").alias("_t"), pl.col("pc").alias("_v")),
        places.select("person_id", pl.lit("ad").alias("_t"), pl.col("addr").alias("_v")),
    ]).drop_nulls().unique()
    home = (
        hits.join(pending.select("mid", "owner_person_id"), on="mid")
        .join(where.rename({"person_id": "owner_person_id"}), on="owner_person_id")
        .join(where, on=["person_id", "_t", "_v"])
        .select("mid", "person_id")
        .unique()
        .with_columns(pl.lit(True).alias("_home"))
    )
    hits = hits.join(home, on=["mid", "person_id"], how="left").with_columns(pl.col("_home").fill_null(False))
    per = hits.group_by("mid").agg(
        pl.len().alias("_n"),
        pl.col("person_id").first().alias("_only"),
        pl.col("person_id").filter(pl.col("_home")).len().alias("_nh"),
        pl.col("person_id").filter(pl.col("_home")).first().alias("_home_pid"),
    )
    # a child said to live with the owner must share an address of the owner
    per = per.join(pending.select("mid", "_lives_with"), on="mid").with_columns(
        pl.when(pl.col("_lives_with")).then(0).otherwise(pl.col("_n")).alias("_n")
    )
    county = per.select(
        "mid",
        pl.when(pl.col("_n") == 1).then(pl.col("_only"))
        .when(pl.col("_nh") == 1).then(pl.col("_home_pid"))
        .otherwise(None)
        .alias("pid"),
        pl.lit(NAME_ONLY_CONFIDENCE).alias("_c2"),
    ).drop_nulls()
    # a connected pick wins; a county-wide pick only where there is none
    return pl.concat([conn, county.join(conn, on="mid", how="anti")]).cast(schema)  # type: ignore[arg-type]


def resolve_mentions(
    mentions: pl.DataFrame,
    people: pl.DataFrame,
    people_std: pl.DataFrame,
    person_ids: pl.DataFrame,
    model: FSModel,
    nicknames_path: Path,
    nickname_pairs: frozenset[str],
    min_confidence: float = 0.7,
    prior_in_data: float = 0.9,
    min_margin: float = 4.0,
    name_only: bool = True,
    extract_date: date | None = None,
    newborn_days: int = 14,
    newborn_prior_in_data: float = 0.3,
) -> pl.DataFrame:
    """Add ``owner_person_id``, ``mentioned_person_id`` and ``mention_confidence`` to the mentions.

    Args:
        mentions: the canonical mentions table.
        people: the canonical people table (for the owner's context).
        people_std: the standardised people (uid order = ``people`` row order).
        person_ids: ``uid`` -> ``person_id`` for every people record.
        model: the Fellegi–Sunter model.
        nicknames_path: path of the alias table.
        nickname_pairs: alias pairs for the forename comparison.
        min_confidence: below this the mention stays unresolved (null person).
        prior_in_data: prior probability that a mentioned person has a record at all.
        min_margin: the best person must also be this many times as probable as the second.
        name_only: resolve a mention left unresolved by the evidence to the one person carrying its
            full name and fitting the relationship (step 2).
        extract_date: the night's extract date (the age of a newborn is counted from it).
        newborn_days: a mention whose date of birth is at most this many days before the extract date
            names a newborn, who may have no record anywhere yet.
        newborn_prior_in_data: ``prior_in_data`` for a newborn.

    Returns:
        The mentions table, in its row order, with the three columns added.
    """
    owner_pid = people_std.select("source", "record_id", "uid").join(person_ids, on="uid").select(
        "source", pl.col("record_id").alias("owner_record_id"), pl.col("person_id").alias("owner_person_id")
    )
    base = mentions.with_columns(pl.col("owner_record_id").cast(pl.Utf8)).join(
        owner_pid, on=["source", "owner_record_id"], how="left", maintain_order="left"
    )
    empty = base.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("mentioned_person_id"), pl.lit(0.0).alias("mention_confidence")
    )
    if mentions.height == 0 or people.height == 0:
        return empty
    facts = _person_facts(people_std, person_ids)
    dmax = people_std["dob"].max()
    ref_day = int(pl.Series([dmax]).cast(pl.Int32)[0]) if dmax is not None else None
    # per mention: owner, relationship constraints, the owner's dates of birth
    mfacts = (
        base.with_row_index("mid")
        .select(
            pl.col("mid").cast(pl.Int64), "owner_person_id", pl.col("dob").cast(pl.Date), *_relationship_exprs(),
            (pl.col("lives_with").fill_null(False) if "lives_with" in base.columns else pl.lit(False))
            .cast(pl.Boolean).alias("_lives_with"),
        )
        .join(
            facts.select(pl.col("person_id").alias("owner_person_id"), pl.col("_dmin").alias("_odmin"),
                         pl.col("_dmax").alias("_odmax")),
            on="owner_person_id", how="left",
        )
    )
    mframe = _mention_people_frame(mentions, people, person_ids)
    borrowed = mframe["_borrowed"]
    offset = people_std.height
    mstd = standardise_people(mframe.drop("_borrowed"), nicknames_path).with_columns(
        pl.col("uid") + offset, borrowed.alias("_borrowed"), pl.col("record_id").cast(pl.Int64).alias("mid")
    )
    mid_of = mstd.select(pl.col("uid").alias("muid"), "mid")
    cands = _mention_candidates(mstd, people_std)
    log.info("mentions: %d mention rows, %d candidate (person record, mention) pairs", mstd.height, cands.height)
    best = pl.DataFrame(schema={"mid": pl.Int64, "pid": pl.Utf8, "conf": pl.Float64, "conf2": pl.Float64})
    scored_persons = pl.DataFrame(schema={"mid": pl.Int64, "person_id": pl.Utf8, "conf": pl.Float64})
    if cands.height:
        # only the person records some mention meets: comparing reads them into pandas, one object per value
        named = people_std.join(cands.select(pl.col("uid_r").alias("uid")).unique(), on="uid", how="semi")
        allrec = pl.concat([named, mstd.drop("_borrowed", "mid")], how="diagonal_relaxed")
        levels = _compare_candidates(allrec, cands, nickname_pairs)
        prior = model.prior_weight(people_std.height)
        scored = score(levels, people_std, model).select(
            pl.col("uid_l").alias("puid"), pl.col("uid_r").alias("muid"), (pl.col("weight") - prior).alias("ev")
        )
        scored = scored.join(mid_of, on="muid").join(person_ids.rename({"uid": "puid"}), on="puid")
        per_person = scored.group_by("mid", "person_id").agg(pl.col("ev").max().clip(-200, 200))
        per_person = per_person.join(mfacts, on="mid").filter(
            pl.col("owner_person_id").is_null() | (pl.col("person_id") != pl.col("owner_person_id"))
        )
        per_person = _plausible(per_person, facts, ref_day).select("mid", "person_id", "ev", "dob")
        per_person = _dob_fits(per_person, people_std, person_ids).select("mid", "person_id", "ev")
        # Posterior over persons and "no record": P(person p) = a·LR_p / ((1 - prior) + a·Σ LR_q),
        # a = prior / persons (each person equally likely a priori), LR_p = 2^evidence of p's best record
        # (records of one person are not independent evidence); persons never blocked with the mention
        # have LR ≈ 0. The prior that the mentioned person has a record at all is lower for a newborn.
        persons = max(person_ids["person_id"].n_unique(), 1)
        today = extract_date or (dmax if isinstance(dmax, date) else None)
        newborn = (
            (pl.lit(today) - pl.col("dob")).dt.total_days() <= newborn_days if today is not None else pl.lit(False)
        )
        priors = mfacts.select(
            "mid",
            pl.when(newborn.fill_null(False)).then(newborn_prior_in_data).otherwise(prior_in_data).alias("_prior"),
        )
        scored_persons = (
            per_person.join(priors, on="mid")
            .with_columns((pl.col("_prior") / persons * pl.lit(2.0).pow(pl.col("ev"))).alias("alr"))
            .with_columns((pl.col("alr") / ((1.0 - pl.col("_prior")) + pl.col("alr").sum().over("mid"))).alias("conf"))
            .select("mid", "person_id", "conf")
        )
        best = (
            scored_persons.sort(["mid", "conf", "person_id"], descending=[False, True, False])
            .group_by("mid", maintain_order=True)
            .agg(
                pl.col("person_id").first().alias("pid"),
                pl.col("conf").first(),
                pl.col("conf").get(1, null_on_oob=True).fill_null(0.0).alias("conf2"),
            )
        )
    out = base.with_row_index("mid").with_columns(pl.col("mid").cast(pl.Int64)).join(
        best, on="mid", how="left", maintain_order="left"
    )
    out = out.with_columns(
        pl.when((pl.col("conf") >= min_confidence) & (pl.col("conf") >= min_margin * pl.col("conf2")))
        .then(pl.col("pid"))
        .otherwise(None)
        .alias("mentioned_person_id"),
        pl.col("conf").fill_null(0.0).clip(0.0, 1.0).alias("mention_confidence"),
    )
    if name_only:
        # step 2 only where no person reached the floor (a tie between two strong persons stays a tie)
        pending = mfacts.join(
            out.filter(pl.col("conf").fill_null(0.0) < min_confidence).select("mid"), on="mid", how="semi"
        )
        canon = nickname_canonical(str(nicknames_path))
        picked = pl.DataFrame(schema={"mid": pl.Int64, "pid": pl.Utf8, "_c2": pl.Float64})
        co_residents = _co_residents(people_std, person_ids)
        lists = out.select("mid", "source", pl.col("owner_record_id").cast(pl.Utf8))
        for _ in range(2):  # a second round sees the connections the first one made
            named = out.select("mid", "owner_person_id", "mentioned_person_id").join(
                picked.select("mid", "pid"), on="mid", how="left"
            ).select("owner_person_id", pl.coalesce("mentioned_person_id", "pid").alias("_m")).drop_nulls()
            connected = _connected(named, co_residents)
            todo = pending.join(picked, on="mid", how="anti")
            picks = _name_only(todo, mstd, people_std, person_ids, facts, ref_day, canon, connected)
            picks = _not_already_listed(picks, out, picked, lists)
            # a step-1 person other than the pick with some probability vetoes it
            rivals = picks.join(scored_persons, on="mid").filter(
                (pl.col("person_id") != pl.col("pid")) & (pl.col("conf") >= NAME_ONLY_MAX_RIVAL)
            ).select("mid").unique()
            picked = pl.concat([picked, picks.join(rivals, on="mid", how="anti")])
        out = out.join(picked.rename({"pid": "_name_pid"}), on="mid", how="left", maintain_order="left").with_columns(
            pl.coalesce("mentioned_person_id", "_name_pid").alias("mentioned_person_id"),
            pl.when(pl.col("_name_pid").is_not_null())
            .then(pl.max_horizontal("mention_confidence", pl.col("_c2")))
            .otherwise(pl.col("mention_confidence"))
            .alias("mention_confidence"),
        ).drop("_name_pid", "_c2")
    return out.drop("mid", "pid", "conf", "conf2")
