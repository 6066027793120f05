"""Standardisation of people records for comparison, as polars expressions.

Display values stay untouched in the canonical tables; everything here produces *comparison* keys:
folded names (case, accents, punctuation), nickname groups, phonetic keys, DOB parts, postcode
parts and a normalised first address line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jellyfish
import polars as pl
import yaml

TITLES = frozenset(
    ["mr", "mrs", "miss", "ms", "mx", "dr", "master", "prof", "rev", "sir", "lady", "lord", "dame", "sr", "fr"]
)
PLACEHOLDER_FORENAMES = frozenset(
    [
        "baby", "babygirl", "babyboy", "infant", "unknown", "unnamed", "twin", "twina", "twinb", "twin1",
        "twin2", "twinone", "twintwo", "girl", "boy", "male", "female", "notknown", "nk", "tbc", "newborn",
    ]
)
PSEUDO_POSTCODE_PREFIX = "ZZ99"

# Letters NFKD does not decompose into base letter + combining mark.
_SPECIAL = str.maketrans(
    {"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
     "đ": "d", "Đ": "d", "ı": "i", "þ": "th", "ð": "d"}
)


def fold_text(value: str | None) -> str | None:
    """Fold one string for comparison: accents removed, lower case, punctuation to spaces.

    Apostrophes (all variants) are dropped so ``O'Brien`` folds to ``obrien``; hyphens and other
    punctuation become spaces so ``Shaw-Walker`` folds to ``shaw walker``.

    Args:
        value: the raw text, or None.

    Returns:
        The folded text, or None when nothing is left.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", value.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    out = []
    for ch in text:
        if ch.isalnum():
            out.append(ch)
        elif ch in "'’‘`´ʼ":
            continue
        else:
            out.append(" ")
    folded = " ".join("".join(out).split())
    return folded or None


def _fold_expr(col: pl.Expr) -> pl.Expr:
    """Vectorised :func:`fold_text` (accent folding via NFKD and a translate table)."""
    e = col.str.replace_many(list(_SPECIAL_KEYS), list(_SPECIAL_VALUES))
    e = e.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase()
    e = e.str.replace_all(r"['’‘`´ʼ]", "").str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    return pl.when(e.str.len_chars() > 0).then(e).otherwise(None)


_SPECIAL_KEYS = [chr(k) for k in _SPECIAL]
_SPECIAL_VALUES = list(_SPECIAL.values())


def strip_titles_expr(col: pl.Expr) -> pl.Expr:
    """Remove leading title words (``mr``, ``dr`` ...) from an already folded name.

    Args:
        col: a folded name expression.
    """
    pattern = r"^(?:(?:" + "|".join(sorted(TITLES)) + r")(?:\s+|$))+"
    e = col.str.replace(pattern, "")
    return pl.when(e.str.len_chars() > 0).then(e).otherwise(None)


def placeholder_to_null_expr(col: pl.Expr) -> pl.Expr:
    """Turn placeholder forenames (``Baby``, ``Baby Girl``, ``Twin 1``, ``Unknown``) into null.

    Args:
        col: a folded forename expression.
    """
    squashed = col.str.replace_all(" ", "")
    return pl.when(squashed.is_in(list(PLACEHOLDER_FORENAMES))).then(None).otherwise(col)


@lru_cache(maxsize=8)
def load_nicknames(path: str) -> dict[str, tuple[int, ...]]:
    """Load the alias table: folded name -> sorted tuple of alias-group ids.

    Args:
        path: path of ``nicknames.yaml``.
    """
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    groups: dict[str, set[int]] = {}
    for gid, (canon, variants) in enumerate(sorted(raw.items())):
        for name in [canon, *(variants or [])]:
            key = fold_text(str(name))
            if key:
                groups.setdefault(key.replace(" ", ""), set()).add(gid)
    return {k: tuple(sorted(v)) for k, v in groups.items()}


@lru_cache(maxsize=8)
def nickname_canonical(path: str) -> dict[str, str]:
    """Folded name -> a canonical key (its first alias group), used as a blocking key.

    Args:
        path: path of ``nicknames.yaml``.
    """
    return {name: f"g{gids[0]}" for name, gids in load_nicknames(path).items()}


@lru_cache(maxsize=8)
def nickname_pairs(path: str) -> frozenset[str]:
    """Every ``"a|b"`` of two different folded names sharing an alias group.

    Args:
        path: path of ``nicknames.yaml``.
    """
    by_group: dict[int, list[str]] = {}
    for name, gids in load_nicknames(path).items():
        for g in gids:
            by_group.setdefault(g, []).append(name)
    out: set[str] = set()
    for names in by_group.values():
        for a in names:
            for b in names:
                if a != b:
                    out.add(f"{a}|{b}")
    return frozenset(out)


def _phonetic(fn: Callable[[str], str], values: pl.Series) -> pl.Series:
    """Apply a jellyfish function on the unique values of a series only."""
    uniq = values.drop_nulls().unique()
    mapping = {v: fn(v) for v in uniq.to_list() if v}
    return values.replace_strict(mapping, default=None, return_dtype=pl.Utf8)


def normalise_postcode_expr(col: pl.Expr) -> pl.Expr:
    """Upper case, spaces removed; pseudo-postcodes (``ZZ99…``) and junk become null.

    Args:
        col: the postcode expression.
    """
    e = col.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    valid = e.str.contains(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$") & ~e.str.starts_with(
        PSEUDO_POSTCODE_PREFIX
    )
    return pl.when(valid).then(e).otherwise(None)


def normalise_address_expr(col: pl.Expr) -> pl.Expr:
    """Fold a first address line: upper case, punctuation removed, spaces collapsed, common
    street-type abbreviations expanded.

    Args:
        col: the address line expression.
    """
    e = _fold_expr(col)
    for short, full in (("rd", "road"), ("st", "street"), ("ave", "avenue"), ("cl", "close"),
                        ("ln", "lane"), ("dr", "drive"), ("cres", "crescent"), ("ct", "court"),
                        ("gr", "grove"), ("pl", "place"), ("sq", "square"), ("tce", "terrace")):
        e = e.str.replace_all(rf"\b{short}\b", full)
    return e


def _address_keys() -> list[pl.Expr]:
    """Blocking and comparison keys from the folded first address line ``addr``."""
    return [
        # house number + first street word ("12 oak")
        pl.when(pl.col("addr").str.split(" ").list.len() >= 2)
        .then(pl.col("addr").str.split(" ").list.slice(0, 2).list.join(" "))
        .otherwise(None)
        .alias("addr_head"),
        # the house number, when the first address line starts with one ("12a")
        pl.col("addr").str.extract(r"^(\d+[a-z]?)\b", 1).alias("addr_num"),
        # the street without its number, spaces removed ("aspinal ls treet" is "aspinallstreet"), and its
        # first four letters (a blocking key that survives a slip later in the name or a lost space)
        pl.col("addr").str.replace(r"^\d+[a-z]?\b", "").str.replace_all(" ", "").alias("street"),
        pl.col("addr").str.replace(r"^\d+[a-z]?\b", "").str.replace_all(" ", "").str.slice(0, 4)
        .alias("street4"),
    ]


def standardise_people(
    people: pl.DataFrame,
    nicknames_path: Path,
    verified_statuses: tuple[str, ...] = ("01",),
    verified_without_status: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Build the comparison frame from the canonical people table.

    Args:
        people: canonical people table (see docs/architecture.md).
        nicknames_path: path of ``config/nicknames.yaml``.
        verified_statuses: ``nhs_status`` codes that make an NHS number verified.
        verified_without_status: sources whose numbers count as verified though they carry no status.

    Returns:
        One row per input row, in input order, with ``uid`` (row number) and comparison columns:
        ``fn``, ``sn`` (folded, no spaces), ``fn_alt`` (known-as / first middle name), ``sn_first`` /
        ``sn_last`` (parts of a multi-part surname),
        ``fn_key`` (nickname-canonical forename), ``fn_ph``, ``sn_ph`` (phonetic keys),
        ``dob``, ``dob_y``, ``dob_m``, ``dob_d``, ``dob_s`` (ddmmyyyy), ``pc``, ``pc_sector``,
        ``pc_out``, ``nhs``, ``nhs_verified``, ``sex``, ``addr``, ``addr_head``, ``addr_num`` (house number),
        ``street`` (the street without number or spaces), ``street4`` (its first four letters), ``dob_dm`` (ddmm),
        ``fn3``, ``sn3`` (first three letters of each name); ``names_ph``, ``names3`` (both names' phonetic keys,
        first three letters, in either order) and ``name_ph_any``, ``name3_any`` (lists: each name's key).
    """
    cols = set(people.columns)

    def opt(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.Utf8) if name in cols else pl.lit(None, dtype=pl.Utf8)

    fn_full = placeholder_to_null_expr(strip_titles_expr(_fold_expr(opt("forename"))))
    df = people.select(
        pl.int_range(0, pl.len(), dtype=pl.Int64).alias("uid"),
        pl.col("source"),
        pl.col("record_id").cast(pl.Utf8),
        fn_full.alias("fn_full"),
        _fold_expr(opt("surname")).alias("sn_full"),
        placeholder_to_null_expr(_fold_expr(opt("known_as"))).alias("ka_full"),
        _fold_expr(opt("middle_names")).alias("mn_full"),
        pl.col("dob").cast(pl.Date) if "dob" in cols else pl.lit(None, dtype=pl.Date).alias("dob"),
        normalise_postcode_expr(opt("postcode")).alias("pc"),
        opt("nhs_number").alias("nhs"),
        opt("nhs_status").alias("nhs_status"),
        opt("sex").alias("sex"),
        normalise_address_expr(opt("address_line1")).alias("addr"),
    )
    df = df.with_columns(
        # first token of the forename; middle names / known-as as an alternative forename
        pl.col("fn_full").str.split(" ").list.first().alias("fn"),
        pl.col("sn_full").str.replace_all(" ", "").alias("sn"),
        # parts of a multi-part (hyphenated) surname, null for a single-part one
        pl.when(pl.col("sn_full").str.contains(" "))
        .then(pl.col("sn_full").str.split(" ").list.first())
        .otherwise(None)
        .alias("sn_first"),
        pl.when(pl.col("sn_full").str.contains(" "))
        .then(pl.col("sn_full").str.split(" ").list.last())
        .otherwise(None)
        .alias("sn_last"),
        pl.col("fn_full").str.slice(0, 3).alias("fn3"),
        pl.coalesce(
            pl.col("ka_full").str.split(" ").list.first(),
            pl.col("mn_full").str.split(" ").list.first(),
            pl.col("fn_full").str.split(" ").list.get(1, null_on_oob=True),
        ).alias("fn_alt"),
        pl.col("dob").dt.year().alias("dob_y"),
        pl.col("dob").dt.month().alias("dob_m"),
        pl.col("dob").dt.day().alias("dob_d"),
        pl.col("dob").dt.strftime("%d%m%Y").alias("dob_s"),
        pl.col("dob").dt.strftime("%d%m").alias("dob_dm"),
        pl.col("pc").str.slice(0, pl.col("pc").str.len_chars() - 2).alias("pc_sector"),
        # the first three letters of each name: a key that survives a slip later in the name
        pl.col("sn_full").str.replace_all(" ", "").str.slice(0, 3).alias("sn3"),
        pl.col("pc").str.slice(0, pl.col("pc").str.len_chars() - 3).alias("pc_out"),
        *_address_keys(),
        (
            pl.col("nhs").is_not_null()
            & (
                pl.col("nhs_status").is_in(list(verified_statuses))
                | (pl.col("nhs_status").is_null() & pl.col("source").is_in(list(verified_without_status)))
            ).fill_null(False)
        ).alias("nhs_verified"),
        pl.when(pl.col("sex").is_in(["M", "F"])).then(pl.col("sex")).otherwise(None).alias("sex"),
    ).with_columns(pl.coalesce("fn", "fn_alt").alias("fn")).with_columns(
        pl.when(pl.col("fn_alt") == pl.col("fn")).then(None).otherwise(pl.col("fn_alt")).alias("fn_alt")
    )
    canon = nickname_canonical(str(nicknames_path))
    df = df.with_columns(
        pl.col("fn").replace_strict(canon, default=pl.col("fn"), return_dtype=pl.Utf8).alias("fn_key"),
        _phonetic(jellyfish.metaphone, df["fn"]).alias("fn_ph"),
        _phonetic(jellyfish.metaphone, df["sn"]).alias("sn_ph"),
        _phonetic(jellyfish.nysiis, df["sn"]).alias("sn_ny"),
        _phonetic(jellyfish.soundex, df["fn"]).alias("fn_sx"),
    )
    return df.with_columns(*_name_token_keys()).drop("fn_full", "sn_full", "ka_full", "mn_full", "nhs_status")


def _unordered(a: str, b: str) -> pl.Expr:
    """The two names as one key whichever field each was written in (null when either is missing)."""
    return (pl.when(pl.col(a).is_not_null() & pl.col(b).is_not_null())
            .then(pl.concat_str(pl.min_horizontal(a, b), pl.lit("|"), pl.max_horizontal(a, b))))


def _any_of(*cols: str) -> pl.Expr:
    """The distinct present values of ``cols`` as a list: a blocking key met through any one of them."""
    return pl.concat_list([pl.col(c) for c in cols]).list.drop_nulls().list.unique(maintain_order=True)


def _name_token_keys() -> list[pl.Expr]:
    """Name keys that survive names written in each other's field (Kale Tschirn / Tschirn Kale), alone or with
    the other name mistyped or replaced: both names unordered, and any one name (a list, met by any member)."""
    return [
        _unordered("fn_ph", "sn_ph").alias("names_ph"),
        _unordered("fn3", "sn3").alias("names3"),
        _any_of("fn_ph", "sn_ph").alias("name_ph_any"),
        _any_of("fn3", "sn3").alias("name3_any"),
    ]
