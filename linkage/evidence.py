"""Evidence that two people share what usually identifies one: twins, and namesakes born years apart.

A pair guard that refuses a link because the records look like twins (same surname, date of birth and
address, different forenames) or like a parent and child of one name is right only where such a second
person exists. Without evidence the Fellegi–Sunter model decides and clerical review takes the doubtful
pairs. Evidence, per key, is either

- two records within one source at one place (postcode, else first address line): one system holding two
  people under that key; or
- the records and mentions around one owner (a related-people row, named child or dependant together with
  the record it sits on) naming two people under that key; a mention carrying its owner's own name is two
  people of that name whatever their dates of birth.

Twins key: surname and date of birth, with two clearly different forenames (two forename keys and two
phonetic keys, so a slip is not a twin). Namesake key: forename key and surname, with birth years two or more
apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

TWIN_KEY = ("sn", "dob_s")
NAMESAKE_KEY = ("fn_key", "sn")


@dataclass(frozen=True)
class GuardEvidence:
    """Keys under which two distinct people are known to exist."""

    twins: pl.DataFrame
    namesakes: pl.DataFrame

    @classmethod
    def none(cls) -> GuardEvidence:
        """No evidence at all (every guard then leaves the decision to the model)."""
        return cls(twins=pl.DataFrame(schema={"sn": pl.Utf8, "dob_s": pl.Utf8}),
                   namesakes=pl.DataFrame(schema={"fn_key": pl.Utf8, "sn": pl.Utf8}))


def _twin_keys(named: pl.LazyFrame, group: list[str]) -> pl.LazyFrame:
    return (
        named.drop_nulls(["sn", "dob_s", "fn_key"])
        .group_by([*group, *TWIN_KEY])
        .agg(pl.col("fn_key").n_unique().alias("_fk"), pl.col("fn_ph").n_unique().alias("_fp"))
        .filter((pl.col("_fk") >= 2) & (pl.col("_fp") >= 2))
        .select(*TWIN_KEY)
    )


def _namesake_keys(named: pl.LazyFrame, group: list[str]) -> pl.LazyFrame:
    return (
        named.drop_nulls(["sn", "fn_key", "dob_y"])
        .group_by([*group, *NAMESAKE_KEY])
        .agg((pl.col("dob_y").max() - pl.col("dob_y").min()).alias("_span"))
        .filter(pl.col("_span") >= 2)
        .select(*NAMESAKE_KEY)
    )


def guard_evidence(records: pl.DataFrame, mentioned: pl.DataFrame | None = None) -> GuardEvidence:
    """Twin and namesake keys with evidence of two people, from tonight's records and mentions.

    Args:
        records: standardised people records (``uid``, ``source``, ``record_id``, ``sn``, ``fn_key``,
            ``fn_ph``, ``dob_s``, ``dob_y``, ``pc``, ``addr``).
        mentioned: standardised mentions (the same name and DOB columns) with ``owner_source`` and
            ``owner_record_id``: the record each sits on.
    """
    cols = ["sn", "fn_key", "fn_ph", "dob_s", "dob_y"]
    within = records.lazy().select(
        "source", *cols, pl.coalesce("pc", "addr").alias("_place")
    ).drop_nulls("_place")
    twins = [_twin_keys(within, ["source", "_place"])]
    namesakes = [_namesake_keys(within, ["source", "_place"])]
    if mentioned is not None and mentioned.height:
        owners = records.lazy().select(
            pl.col("source").alias("owner_source"), pl.col("record_id").alias("owner_record_id"), *cols)
        around = pl.concat([
            mentioned.lazy().select("owner_source", "owner_record_id", *cols),
            owners.join(mentioned.lazy().select("owner_source", "owner_record_id").unique(),
                        on=["owner_source", "owner_record_id"], how="semi"),
        ], how="vertical_relaxed")
        twins.append(_twin_keys(around, ["owner_source", "owner_record_id"]))
        namesakes.append(_namesake_keys(around, ["owner_source", "owner_record_id"]))
        # a record naming someone of its own name (a father on his namesake son's record) shows two people
        # of that name, with or without a date of birth
        namesakes.append(mentioned.lazy().select("owner_source", "owner_record_id", *NAMESAKE_KEY).join(
            owners.select("owner_source", "owner_record_id", *NAMESAKE_KEY),
            on=["owner_source", "owner_record_id", *NAMESAKE_KEY], how="semi").select(*NAMESAKE_KEY))
    return GuardEvidence(
        twins=pl.concat(twins).unique().collect().sort(TWIN_KEY),
        namesakes=pl.concat(namesakes).drop_nulls().unique().collect().sort(NAMESAKE_KEY),
    )
