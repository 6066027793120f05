"""Render one night's drop (landing files and truth) from the generated world."""

from __future__ import annotations

import datetime as dt
import json
import random
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from synth import reference as ref
from synth.population import Address, Population
from synth.rules import NightView, apply_rules
from synth.sources import WINDOW_DAYS, Appointments, SourceBuilder

HEADERS: dict[str, list[str]] = {
    "HV_Caseload": ["Patient ID", "NHS Number", "NHS Number Status", "Forename", "Surname", "Date of Birth",
                    "Gender", "Address Line 1", "Address Line 2", "Town", "Postcode", "Health Visitor", "HV Team",
                    "Child Protection Plan", "Looked After", "Other Services Involved", "Caseload Start"],
    "HV_Contacts": ["Patient ID", "Contact Date", "Contact Type", "Outcome", "Staff Name"],
    "HV_RelatedPeople": ["Patient ID", "Related Forename", "Related Surname", "Related DOB", "Related NHS Number",
                         "Relationship", "Lives With Child", "Parental Responsibility"],
    "SN_Caseload": ["PatientID", "NHSNumber", "NHSNumberStatus", "FirstName", "LastName", "DOB", "Sex",
                    "AddressLine1", "Postcode", "SchoolName", "SchoolURN", "YearGroup", "SchoolNurse", "Team",
                    "CPPlan", "LAC", "OtherServicesInvolved", "CaseloadStart"],
    "SN_Contacts": ["PatientID", "ContactDateTime", "ContactType", "Outcome", "StaffName"],
    "SN_RelatedPeople": ["PatientID", "RelatedName", "RelatedDOB", "Relationship", "LivesWith"],
    "CAMHS_Referrals": ["CLIENT_ID", "NHS_NUMBER", "NHS_NUMBER_STATUS", "FIRST_NAME", "SURNAME", "DATE_OF_BIRTH",
                        "GENDER_CODE", "ADDRESS_1", "POSTCODE", "REFERRAL_ID", "REFERRAL_DATE", "DISCHARGE_DATE",
                        "CARE_COORDINATOR", "TEAM", "KNOWN_PROFESSIONALS"],
    "CAMHS_Appointments": ["CLIENT_ID", "APPT_DATETIME", "ATTEND_CODE", "CLINICIAN"],
    "GP_RegisteredPatients": ["EMIS Number", "NHS Number", "Title", "Given Name", "Middle Names", "Family Name",
                              "Date of Birth", "Sex", "House Name/Flat", "Number and Street", "Village", "Town",
                              "Postcode", "Usual GP", "Practice Code", "Registration Date"],
    "GP_Appointments": ["EMIS Number", "Appointment Date", "Appointment Time", "Slot Type", "Status", "Clinician"],
    "Dental_Patients": ["Patient Ref", "Title", "First Name", "Last Name", "D.O.B.", "Address 1", "Address 2",
                        "Address 3", "Post Code", "NHS No", "Practice", "Dentist"],
    "Dental_Appointments": ["Patient Ref", "Appt Date", "Appt Time", "Treatment", "Status"],
    "TP_Clients": ["Client ID", "First Name", "Surname", "Known As", "DOB", "Gender", "Postcode", "NHS Number",
                   "Primary Substance", "Episode Start", "Episode End", "Keyworker", "Parental Status",
                   "Other Services Known"],
    "TP_Children": ["Client ID", "Child Name", "Child DOB", "Lives With Client"],
    "TP_Appointments": ["Client ID", "Date", "Outcome"],
    "AMH_Patients": ["RiO ID", "NHS No", "Forename", "Surname", "Birth Date", "Gender", "Address", "Postcode", "Team",
                     "Care Coordinator", "Referral Date", "Discharge Date", "Has Dependent Children",
                     "Substance Misuse Service Involved"],
    "AMH_Dependants": ["RiO ID", "Dependant Forename", "Dependant Surname", "Dependant DOB", "Relationship",
                       "Lives With"],
    "AMH_Appointments": ["RiO ID", "Appt Date", "Attendance"],
}
# (source, kind) per file; kind is people / mention / appt
FILE_INFO: dict[str, tuple[str, str]] = {
    "HV_Caseload": ("hv", "people"), "HV_Contacts": ("hv", "appt"), "HV_RelatedPeople": ("hv", "mention"),
    "SN_Caseload": ("sn", "people"), "SN_Contacts": ("sn", "appt"), "SN_RelatedPeople": ("sn", "mention"),
    "CAMHS_Referrals": ("camhs", "people"), "CAMHS_Appointments": ("camhs", "appt"),
    "GP_RegisteredPatients": ("gp", "people"), "GP_Appointments": ("gp", "appt"),
    "Dental_Patients": ("dental", "people"), "Dental_Appointments": ("dental", "appt"),
    "TP_Clients": ("tp", "people"), "TP_Children": ("tp", "mention"), "TP_Appointments": ("tp", "appt"),
    "AMH_Patients": ("amh", "people"), "AMH_Dependants": ("amh", "mention"), "AMH_Appointments": ("amh", "appt"),
}
# encoding, line terminator, BOM
ENCODING: dict[str, tuple[str, str, bool]] = {
    "hv": ("utf-8", "\r\n", True), "gp": ("utf-8", "\r\n", False), "dental": ("cp1252", "\r\n", False),
    "sn": ("utf-8", "\n", False), "camhs": ("utf-8", "\n", False), "tp": ("utf-8", "\n", False),
    "amh": ("utf-8", "\n", False),
}
MENTION_FILE = {"hv": "HV_RelatedPeople", "sn": "SN_RelatedPeople", "tp": "TP_Children", "amh": "AMH_Dependants"}
PEOPLE_FILE = {"hv": "HV_Caseload", "sn": "SN_Caseload", "camhs": "CAMHS_Referrals", "gp": "GP_RegisteredPatients",
               "dental": "Dental_Patients", "tp": "TP_Clients", "amh": "AMH_Patients"}
APPT_FILE = {"hv": "HV_Contacts", "sn": "SN_Contacts", "camhs": "CAMHS_Appointments", "gp": "GP_Appointments",
             "dental": "Dental_Appointments", "tp": "TP_Appointments", "amh": "AMH_Appointments"}
IMPOSSIBLE = ((31, 2), (30, 2), (31, 4), (31, 6), (31, 9), (31, 11))
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _h(*parts: object) -> int:
    """Stable (process-independent) hash of some values."""
    return zlib.crc32(repr(parts).encode("utf-8"))


def _dmy(d: dt.date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _mon(d: dt.date) -> str:
    return f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year}"


def _short(d: dt.date) -> str:
    return f"{d.day}/{d.month}/{d.year % 100:02d}"


def _impossible(fmt: str, year: int, r: random.Random) -> str:
    day, month = r.choice(IMPOSSIBLE)
    if fmt == "dmy":
        return f"{day:02d}/{month:02d}/{year}"
    if fmt == "iso":
        return f"{year}-{month:02d}-{day:02d}"
    if fmt == "mon":
        return f"{day:02d}-{MONTHS[month - 1]}-{year}"
    return f"{day}/{month}/{year % 100:02d}"


def _postcode_as_typed(pc: str, r: random.Random, p: float) -> str:
    u = r.random()
    if u < p * 0.5:
        return pc.replace(" ", "").lower()
    if u < p * 0.8:
        return pc.replace(" ", "")
    if u < p:
        return pc.replace(" ", "  ")
    return pc


@dataclass
class FileOut:
    """A rendered file: rows of text plus per-row metadata."""

    name: str
    frame: pl.DataFrame  # text columns in header order, then _owner, _pid, _broken
    rows: int = 0
    duplicates: int = 0
    broken: int = 0


class DropWriter:
    """Writes the landing files and truth of one night."""

    def __init__(self, pop: Population, sb: SourceBuilder, seed: int) -> None:
        """Create a writer.

        Args:
            pop: the true population.
            sb: the built source records.
            seed: random seed used for as-typed variations (stable across nights).
        """
        self.pop = pop
        self.sb = sb
        self.seed = seed

    # -- people files --------------------------------------------------------------------------
    def _rows_people(self, src: str, night: dt.date) -> tuple[list[list[str | None]], list[int], list[str | None]]:
        n_o = night.toordinal()
        people = self.pop.people
        rows: list[list[str | None]] = []
        owners: list[int] = []
        broken: list[str | None] = []
        for i, rec in enumerate(self.sb.records[src]):
            if rec.start > n_o or (rec.leave is not None and n_o >= rec.leave):
                continue
            r = random.Random(_h(self.seed, src, i))
            p = people[rec.pid]
            addr: Address = rec.addr_new if (rec.addr_new is not None and rec.addr_change is not None
                                             and n_o >= rec.addr_change) else rec.addr
            ex = rec.extra
            end = rec.end if rec.end is not None and rec.end <= n_o else None
            start_d = dt.date.fromordinal(rec.start)
            sex = p.sex
            out: list[list[str | None]] = []
            if src == "hv":
                nhs = f"{rec.nhs[:3]} {rec.nhs[3:6]} {rec.nhs[6:]}" if rec.nhs else ""
                team = ref.HV_TEAMS[_h(rec.rid, "t") % len(ref.HV_TEAMS)]
                staff = ref.HV_STAFF[_h(rec.rid, "s") % len(ref.HV_STAFF)]
                out.append([rec.rid, nhs, rec.nhs_status, rec.fore, rec.sur, _dmy(rec.dob),
                            "Male" if sex == "M" else "Female", addr.line1, addr.locality, addr.town,
                            _postcode_as_typed(addr.postcode, r, 0.06), staff, team, "Y" if ex["cpp"] else "N",
                            "Y" if ex["lac"] else "N", ex["other"], _dmy(start_d)])
            elif src == "sn":
                age_sep = night.year - p.dob.year - (1 if (p.dob.month, p.dob.day) > (8, 31) else 0)
                if (night.month, night.day) < (9, 1):
                    age_sep -= 1
                yg = age_sep - 4
                year_group = "R" if yg <= 0 else str(min(yg, 13))
                schools = ref.SCHOOLS_PRIMARY if yg <= 6 else ref.SCHOOLS_SECONDARY
                school = schools[_h(rec.rid, "sch") % len(schools)]
                out.append([rec.rid, rec.nhs, rec.nhs_status, rec.fore, rec.sur, rec.dob.isoformat(), sex,
                            addr.line1, _postcode_as_typed(addr.postcode, r, 0.03), school[0], school[1],
                            year_group, ref.SN_STAFF[_h(rec.rid, "s") % len(ref.SN_STAFF)],
                            ref.SN_TEAMS[_h(rec.rid, "t") % len(ref.SN_TEAMS)],
                            "Y" if ex["cpp"] else "N", "Y" if ex["lac"] else "N", ex["other"], start_d.isoformat()])
            elif src == "camhs":
                team = ref.CAMHS_TEAMS[ex["team"]][0]
                g = "1" if sex == "M" else "2"
                if ex["gender"] < 0.01:
                    g = "X"
                for (rs, re_), rid in zip(ex["referrals"], ex["ref_ids"], strict=False):
                    if rs > n_o:
                        continue
                    disc = dt.date.fromordinal(re_).isoformat() if re_ is not None and re_ <= n_o else ""
                    out.append([rec.rid, rec.nhs, rec.nhs_status, rec.fore, rec.sur.upper(), rec.dob.isoformat(), g,
                                addr.line1, addr.postcode, rid, dt.date.fromordinal(rs).isoformat(), disc,
                                ex["coordinator"], team, ex["other"]])
            elif src == "gp":
                code, gps = ref.GP_PRACTICES[ex["practice"]]
                street = addr.line1.upper() if r.random() < 0.02 else addr.line1
                out.append([rec.rid, rec.nhs, ex["title"], rec.fore, rec.middle, rec.sur, _mon(rec.dob), sex, "",
                            street, addr.locality if r.random() < 0.3 else "", addr.town,
                            _postcode_as_typed(addr.postcode, r, 0.02), gps[_h(rec.rid) % len(gps)], code,
                            _mon(start_d)])
            elif src == "dental":
                name, dentists = ref.DENTAL_PRACTICES[ex["practice"]]
                a2, a3 = (addr.locality, addr.town) if addr.locality else (addr.town, "")
                out.append([rec.rid, ex["title"], rec.fore, rec.sur, _short(rec.dob), addr.line1, a2, a3,
                            addr.postcode, rec.nhs, name, dentists[_h(rec.rid) % len(dentists)]])
            elif src == "tp":
                gender = "Male" if sex == "M" else "Female"
                if r.random() < 0.03:
                    gender = r.choice(("Non-binary", "Not stated"))
                out.append([rec.rid, rec.fore, rec.sur, ex["known_as"], rec.dob.isoformat(), gender, addr.postcode,
                            rec.nhs, ref.TP_SUBSTANCES[_h(rec.rid) % len(ref.TP_SUBSTANCES)], start_d.isoformat(),
                            dt.date.fromordinal(end).isoformat() if end else "",
                            ref.TP_KEYWORKERS[_h(rec.rid, "k") % len(ref.TP_KEYWORKERS)], ex["parental"],
                            ex["other"]])
            elif src == "amh":
                team, coords = ref.AMH_TEAMS[ex["team"]]
                address = ", ".join(x for x in (addr.line1, addr.locality, addr.town) if x)
                out.append([rec.rid, rec.nhs, rec.fore, rec.sur, _dmy(rec.dob), "Male" if sex == "M" else "Female",
                            address, addr.postcode, team, coords[_h(rec.rid) % len(coords)], _dmy(start_d),
                            _dmy(dt.date.fromordinal(end)) if end else "", ex["hdc"], ex["smi"]])
            for row in out:
                b = rec.broken
                if b == "impossible_date":
                    fmt = {"hv": "dmy", "sn": "iso", "gp": "mon", "dental": "short", "tp": "iso", "amh": "dmy"}[src]
                    col = {"hv": 5, "sn": 5, "gp": 6, "dental": 4, "tp": 4, "amh": 4}[src]
                    row[col] = _impossible(fmt, rec.dob.year, r)
                elif b == "blank_surname":
                    col = {"hv": 4, "sn": 4, "gp": 5, "dental": 3, "tp": 2, "amh": 3}[src]
                    row[col] = ""
                elif b == "blank_identifier":
                    row[0] = ""
                rows.append([x if x else None for x in row])
                owners.append(i)
                broken.append(b)
                if rec.dup and b is None:
                    rows.append(list(rows[-1]))
                    owners.append(i)
                    broken.append(None)
        return rows, owners, broken

    # -- mention files -------------------------------------------------------------------------
    def _rows_mentions(self, src: str, present: set[int]) -> tuple[list[list[str | None]], list[int], list[int]]:
        rows: list[list[str | None]] = []
        owners: list[int] = []
        pids: list[int] = []
        recs = self.sb.records[src]
        ments = sorted(enumerate(self.sb.mentions[src]), key=lambda t: (self._sort_key(recs[t[1].owner].rid), t[0]))
        for _, m in ments:
            if m.owner not in present:
                continue
            rows.append([recs[m.owner].rid or None, *[x if x else None for x in m.fields]])
            owners.append(m.owner)
            pids.append(m.pid)
        return rows, owners, pids

    @staticmethod
    def _sort_key(rid: str) -> tuple[int, str]:
        digits = "".join(ch for ch in rid if ch.isdigit())
        return (int(digits) if digits else 0, rid)

    # -- appointment files ---------------------------------------------------------------------
    def _frame_appts(self, src: str, night: dt.date, present: set[int]) -> pl.DataFrame:
        a: Appointments = self.sb.appointments[src]
        n_o = night.toordinal()
        recs = self.sb.records[src]
        pres = np.zeros(len(recs) + 1, dtype=bool)
        if present:
            pres[np.fromiter(present, dtype=np.int64)] = True
        keep = pres[a.owner] & (a.day <= n_o) & (a.day > n_o - WINDOW_DAYS)
        if src == "hv":
            leave = np.array([rec.leave or 10**7 for rec in recs], dtype=np.int64)
            keep &= a.day < leave[a.owner]
        idx = np.nonzero(keep)[0]
        # duplicates: repeat flagged rows
        dup = a.dup[idx] & (a.broken[idx] == 0)
        idx = np.sort(np.concatenate([idx, idx[dup]]), kind="stable")
        owner = a.owner[idx]
        rid_arr = np.array([rec.rid for rec in recs] + [""], dtype=object)
        base = pl.DataFrame({
            "_owner": owner.astype(np.int64),
            "_day": a.day[idx].astype(np.int64) - dt.date(1970, 1, 1).toordinal(),
            "_min": a.minute[idx].astype(np.int64),
            "_kind": a.kind[idx].astype(np.int64),
            "_out": a.outcome[idx].astype(np.int64),
            "_staff": a.staff[idx].astype(np.int64),
            "_brk": a.broken[idx].astype(np.int64),
            "_rid": pl.Series(rid_arr[owner].tolist(), dtype=pl.String),
        }).with_columns(pl.col("_day").cast(pl.Date))
        # sort: record order as in people file
        order_key = pl.Series([self._sort_key(rec.rid)[0] for rec in recs], dtype=pl.Int64)
        base = base.with_columns(_ord=order_key.gather(base["_owner"]) if len(base) else pl.lit(0, pl.Int64))
        base = base.with_row_index("_seq").sort(["_ord", "_seq"])
        d = pl.col("_day")
        hhmm = pl.format("{}:{}", (pl.col("_min") // 60).cast(pl.String).str.zfill(2),
                         (pl.col("_min") % 60).cast(pl.String).str.zfill(2))
        kinds = pl.Series(list(a.kinds), dtype=pl.String)
        outs = pl.Series(list(a.outcomes), dtype=pl.String)
        staff = pl.Series(list(a.staff_names), dtype=pl.String)
        base = base.with_columns(
            _k=kinds.gather(base["_kind"]) if len(base) else pl.lit(None, pl.String),
            _o=outs.gather(base["_out"]) if len(base) else pl.lit(None, pl.String),
            _s=staff.gather(base["_staff"]) if len(base) else pl.lit(None, pl.String),
        )
        dd = d.dt.day().cast(pl.String)
        mm = d.dt.month().cast(pl.String)
        yyyy = d.dt.year().cast(pl.String)
        if src == "hv":
            cols = [pl.format("{}/{}/{} {}", dd.str.zfill(2), mm.str.zfill(2), yyyy, hhmm), pl.col("_k"),
                    pl.col("_o"), pl.col("_s")]
            fmt = "dmy_t"
        elif src == "sn":
            cols = [pl.format("{}T{}:00", d.dt.strftime("%Y-%m-%d"), hhmm), pl.col("_k"), pl.col("_o"), pl.col("_s")]
            fmt = "iso_t"
        elif src == "camhs":
            cols = [pl.format("{} {}:00", d.dt.strftime("%Y-%m-%d"), hhmm), pl.col("_o"), pl.col("_s")]
            fmt = "iso_t"
        elif src == "gp":
            mon = pl.Series(list(MONTHS), dtype=pl.String)
            cols = [pl.format("{}-{}-{}", dd.str.zfill(2), d.dt.month().cast(pl.Int64).sub(1).map_batches(
                lambda s: mon.gather(s), return_dtype=pl.String), yyyy), hhmm, pl.col("_k"), pl.col("_o"),
                pl.col("_s")]
            fmt = "mon"
        elif src == "dental":
            cols = [pl.format("{}/{}/{}", dd, mm, (d.dt.year() % 100).cast(pl.String).str.zfill(2)), hhmm,
                    pl.col("_k"), pl.col("_o")]
            fmt = "short"
        elif src == "tp":
            cols = [d.dt.strftime("%Y-%m-%d"), pl.col("_o")]
            fmt = "iso"
        else:
            cols = [pl.format("{}/{}/{} {}", dd.str.zfill(2), mm.str.zfill(2), yyyy, hhmm), pl.col("_o")]
            fmt = "dmy_t"
        names = HEADERS[APPT_FILE[src]]
        out = base.select(
            pl.when(pl.col("_brk") == 2).then(pl.lit(None, pl.String)).otherwise(pl.col("_rid")).alias(names[0]),
            *[c.alias(nm) for c, nm in zip(cols, names[1:], strict=True)],
            pl.col("_owner"), pl.col("_day"), pl.col("_brk"), pl.col("_out"),
        )
        bad = np.nonzero(out["_brk"].to_numpy() == 1)[0]
        if bad.size:
            col = out[names[1]].to_list()
            for j in bad.tolist():
                r = random.Random(_h(self.seed, src, "appt", j))
                yr = out["_day"][j].year
                day, month = r.choice(IMPOSSIBLE)
                text = col[j]
                if fmt == "dmy_t":
                    col[j] = f"{day:02d}/{month:02d}/{yr}" + text[10:]
                elif fmt == "iso_t":
                    col[j] = f"{yr}-{month:02d}-{day:02d}" + text[10:]
                elif fmt == "iso":
                    col[j] = f"{yr}-{month:02d}-{day:02d}"
                elif fmt == "mon":
                    col[j] = f"{day:02d}-{MONTHS[month - 1]}-{yr}"
                else:
                    col[j] = f"{day}/{month}/{yr % 100:02d}"
            out = out.with_columns(pl.Series(names[1], col, dtype=pl.String))
        return out

    # -- writing -------------------------------------------------------------------------------
    @staticmethod
    def _write(path: Path, frame: pl.DataFrame, header: list[str], src: str,
               unparseable: list[int]) -> None:
        enc, term, bom = ENCODING[src]
        text = frame.select(header).write_csv(quote_style="necessary", line_terminator="\n")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for j in unparseable:
            line = lines[j + 1]
            fields = line.split(",")
            cut = max(1, len(fields) // 2)
            lines[j + 1] = ",".join(fields[:cut]) + "|" + "~" * 3
        body = term.join(lines) + term
        data = body.encode(enc, errors="replace" if enc == "cp1252" else "strict")
        if bom:
            data = b"\xef\xbb\xbf" + data
        path.write_bytes(data)

    def write_night(self, night: dt.date, landing: Path, truth: Path) -> dict[str, Any]:
        """Write one night's drop and its truth.

        Args:
            night: the extract date.
            landing: folder ``<out>/landing/<date>``.
            truth: folder ``<out>/truth/<date>``.

        Returns:
            The counts dictionary (also written as ``counts.json``).
        """
        landing.mkdir(parents=True, exist_ok=True)
        truth.mkdir(parents=True, exist_ok=True)
        stamp = night.strftime("%Y%m%d")
        people = self.pop.people
        view = NightView()
        persons_rows: list[tuple[str, str, str]] = []
        related_rows: list[tuple[str, str, int, str, str]] = []
        broken_rows: list[tuple[str, int, str]] = []
        file_counts: dict[str, dict[str, int]] = {}
        src_counts: dict[str, dict[str, int]] = {}
        n_o = night.toordinal()
        for src in ("hv", "sn", "camhs", "gp", "dental", "tp", "amh"):
            sc = {"people_records": 0, "people_rows": 0, "appointment_rows": 0, "mention_rows": 0, "broken_rows": 0}
            recs = self.sb.records[src]
            # people
            fname = PEOPLE_FILE[src]
            rows, owners, broken = self._rows_people(src, night)
            header = HEADERS[fname]
            frame = pl.DataFrame(rows, schema={h: pl.String for h in header}, orient="row") if rows else \
                pl.DataFrame(schema={h: pl.String for h in header})
            order = sorted(range(len(rows)), key=lambda j: (self._sort_key(recs[owners[j]].rid), j))
            frame = frame[order] if rows else frame
            owners = [owners[j] for j in order]
            broken = [broken[j] for j in order]
            fn = f"{fname}_{stamp}.csv"
            unp = [j for j, b in enumerate(broken) if b == "unparseable_line"]
            self._write(landing / fn, frame, header, src, unp)
            present = {o for o in owners}
            accepted = {o for o, b in zip(owners, broken, strict=True) if b is None}
            view.accepted[src] = {o: recs[o] for o in accepted}
            view.text[src] = {}
            for j, (o, b) in enumerate(zip(owners, broken, strict=True)):
                if b is None:
                    view.text[src].setdefault(o, {})
                    if src == "gp":
                        view.text[src][o] = {"street": frame[j, "Number and Street"] or "",
                                             "postcode": frame[j, "Postcode"] or ""}
                    if src == "camhs" and frame[j, "DISCHARGE_DATE"] is None:
                        view.text[src][o]["open"] = "1"
                else:
                    broken_rows.append((fn, j + 2, b))
            for o in sorted(accepted, key=lambda o: recs[o].rid):
                persons_rows.append((src, recs[o].rid, people[recs[o].pid].tid))
            nb = sum(1 for b in broken if b)
            file_counts[fn] = {"rows": len(rows), "duplicate_rows": len(rows) - frame.n_unique() if rows else 0,
                               "broken_rows": nb}
            sc["people_records"] = len(accepted)
            sc["people_rows"] = len(rows)
            sc["broken_rows"] += nb
            # mentions
            if src in MENTION_FILE:
                mname = MENTION_FILE[src]
                mrows, mowners, mpids = self._rows_mentions(src, present)
                mheader = HEADERS[mname]
                mframe = pl.DataFrame(mrows, schema={h: pl.String for h in mheader}, orient="row") if mrows else \
                    pl.DataFrame(schema={h: pl.String for h in mheader})
                mfn = f"{mname}_{stamp}.csv"
                self._write(landing / mfn, mframe, mheader, src, [])
                view.mentions[src] = []
                for j, (o, pid) in enumerate(zip(mowners, mpids, strict=True)):
                    if o in accepted:
                        related_rows.append((src, mfn, j + 2, recs[o].rid, people[pid].tid))
                        view.mentions[src].append((o, pid))
                file_counts[mfn] = {"rows": len(mrows),
                                    "duplicate_rows": len(mrows) - mframe.n_unique() if mrows else 0,
                                    "broken_rows": 0}
                sc["mention_rows"] = len(mrows)
            # appointments
            aname = APPT_FILE[src]
            aheader = HEADERS[aname]
            aframe = self._frame_appts(src, night, present)
            afn = f"{aname}_{stamp}.csv"
            self._write(landing / afn, aframe, aheader, src, [])
            brk = aframe["_brk"].to_numpy()
            for j in np.nonzero(brk > 0)[0].tolist():
                broken_rows.append((afn, j + 2, "impossible_date" if brk[j] == 1 else "blank_identifier"))
            ok = aframe.filter(pl.col("_brk") == 0).unique(subset=aheader, keep="first", maintain_order=True)
            acc_mask = np.zeros(len(recs) + 1, dtype=bool)
            if accepted:
                acc_mask[np.fromiter(accepted, dtype=np.int64)] = True
            a = self.sb.appointments[src]
            n_missed_codes = len(a.outcomes) - len(a.missed)
            okm = ok.filter(
                (pl.col("_out") >= n_missed_codes)
                & (pl.col("_day") > dt.date.fromordinal(n_o - 365))
            )
            for o, d in zip(okm["_owner"].to_list(), okm["_day"].to_list(), strict=True):
                if acc_mask[o]:
                    view.missed.append((recs[o].pid, src, d.toordinal()))
            adups = len(aframe) - aframe.select(aheader).n_unique() if len(aframe) else 0
            file_counts[afn] = {"rows": len(aframe), "duplicate_rows": adups, "broken_rows": int((brk > 0).sum())}
            sc["appointment_rows"] = len(aframe)
            sc["broken_rows"] += int((brk > 0).sum())
            src_counts[src] = sc
        (landing / "_SUCCESS").write_bytes(b"")
        # truth
        findings = apply_rules(self.pop, self.sb, view, night)
        pl.DataFrame(persons_rows, schema=["source", "record_id", "true_person_id"], orient="row").write_csv(
            truth / "persons.csv")
        pl.DataFrame(related_rows, schema=["source", "file", "row_number", "owner_record_id", "true_person_id"],
                     orient="row").write_csv(truth / "related.csv")
        pl.DataFrame(findings, schema=dict.fromkeys(["rule", "child_true_person_id", "adult_true_person_id"],
                                                    pl.String), orient="row").write_csv(truth / "findings.csv")
        pl.DataFrame(broken_rows, schema=["file", "row_number", "reason"], orient="row").write_csv(
            truth / "broken_rows.csv")
        born = [p for p in people if p.dob <= night]
        pl.DataFrame([(p.tid, self.pop.households[p.hh].hid, p.role) for p in born],
                     schema=["true_person_id", "household_id", "role"], orient="row").write_csv(
            truth / "households.csv")
        pl.DataFrame([(p.tid, p.fore, p.middle or None, p.sur, p.sex, p.dob.isoformat(), p.nhs,
                       self.pop.households[p.hh].hid) for p in born],
                     schema=["true_person_id", "forename", "middle_name", "surname", "sex", "date_of_birth",
                             "nhs_number", "household_id"], orient="row").write_csv(truth / "people.csv")
        counts = {"extract_date": night.isoformat(), "files": file_counts, "sources": src_counts,
                  "findings": len(findings)}
        (truth / "counts.json").write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n")
        return counts
