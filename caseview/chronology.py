"""A child's multi-agency chronology from every night the deployment holds.

For each night the child's records are those the linkage gave the child's person id. Their episodes
(caseload, referral and registration dates), contacts and missed appointments, the adults named on
them (related people, dependants) with the adults' own service involvement, and the findings about the
child with their responses are put on one timeline. Adults are shown by initials, relationship and
services (no names, appointments or addresses: need to know). A lead sees the services whose involvement
is not sensitive (``involvement_sensitive`` in ``config/sharing.yaml``) or is their own, and the findings
routed to them; the rest is counted, not shown.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from alerts.need_to_know import NeedToKnow
from alerts.present import initials
from caseview.nights import child_findings, nights, people_rows, read


@dataclass(frozen=True)
class Reader:
    """What the person reading a chronology may see: which services' entries, which findings."""

    service: Callable[[str], bool]
    finding: Callable[[dict[str, Any]], bool]
    show_team: bool = False


EVERYONE = Reader(service=lambda _s: True, finding=lambda _f: True, show_team=True)

APPOINTMENT_KEYS = ["source", "record_id", "appt_date", "appt_time", "appt_type", "outcome"]
CHILD_FIELDS = ["forename", "surname", "dob", "nhs_number", "team", "practice", "start_date", "end_date", "is_open",
                "cp_plan", "looked_after"]
ADULT_FIELDS = ["forename", "surname", "start_date", "end_date", "is_open", "team"]
OUTCOME_WORDS = {"attended": "attended", "missed": "missed (was not brought / did not attend)",
                 "cancelled_by_patient": "cancelled by the family", "cancelled_by_provider": "cancelled by the service",
                 "other": "other outcome"}


def _refs_by_night(output: Path, person_id: str) -> list[tuple[dt.date, Path, set[str]]]:
    out = []
    for night, folder in nights(output):
        records = read(folder / "linkage" / "records.parquet")
        if records is None:
            continue
        mine = records.filter(pl.col("person_id") == person_id)
        refs = {f"{s}:{r}" for s, r in mine.select("source", pl.col("record_id").cast(pl.String)).iter_rows()}
        if refs:
            out.append((night, folder, refs))
    return out


def _latest_rows(per_night: list[tuple[dt.date, Path, set[str]]], fields: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for _night, folder, refs in per_night:  # oldest first: a later night's row replaces an earlier one
        frame = people_rows(folder, refs, ["source", "record_id", *fields])
        if frame is not None:
            rows.update({r["ref"]: r for r in frame.iter_rows(named=True)})
    return rows


def _appointments(per_night: list[tuple[dt.date, Path, set[str]]]) -> pl.DataFrame:
    frames = []
    for _night, folder, refs in per_night:
        appts = read(folder / "landing" / "appointments.parquet")
        if appts is None:
            continue
        keyed = appts.with_columns(pl.col("record_id").cast(pl.String))
        keyed = keyed.filter((pl.col("source") + ":" + pl.col("record_id")).is_in(sorted(refs)))
        frames.append(keyed.select([c for c in APPOINTMENT_KEYS if c in keyed.columns]))
    if not frames:
        return pl.DataFrame(schema={"source": pl.String, "record_id": pl.String, "appt_date": pl.Date,
                                    "appt_time": pl.String, "appt_type": pl.String, "outcome": pl.String})
    return pl.concat(frames, how="diagonal_relaxed").unique().sort("appt_date", "source", nulls_last=True)


def _adults(output: Path, per_night: list[tuple[dt.date, Path, set[str]]], finding_adults: set[str],
            reader: Reader, ntk: NeedToKnow) -> list[dict[str, Any]]:
    named: dict[str, dict[str, Any]] = {}
    for _night, folder, refs in per_night:
        mentions = read(folder / "linkage" / "mentions.parquet")
        if mentions is None:
            continue
        rows = mentions.with_columns(pl.col("owner_record_id").cast(pl.String)).filter(
            (pl.col("source") + ":" + pl.col("owner_record_id")).is_in(sorted(refs))
            & pl.col("mentioned_person_id").is_not_null())
        for m in rows.iter_rows(named=True):
            if not reader.service(m["source"]):
                continue
            entry = named.setdefault(str(m["mentioned_person_id"]), {"relationships": set(), "via": set()})
            if m.get("relationship"):
                entry["relationships"].add(str(m["relationship"]))
            entry["via"].add(ntk.sharing.service_name(m["source"]))
    for pid in finding_adults:
        named.setdefault(pid, {"relationships": set(), "via": {"a finding"}})
    adults = []
    for pid, entry in sorted(named.items()):
        per_adult = _refs_by_night(output, pid)
        held = _latest_rows(per_adult, ADULT_FIELDS)
        inits = Counter(initials(r.get("forename"), r.get("surname")) for r in held.values())
        services = [{"service": ntk.sharing.service_name(r["source"]), "source": r["source"],
                     "start": r.get("start_date"), "end": r.get("end_date"), "open": bool(r.get("is_open")),
                     "team": r.get("team") if reader.show_team else None}
                    for r in held.values() if reader.service(r["source"])]
        adults.append({"person_id": pid, "initials": inits.most_common(1)[0][0] if inits else "?.?.",
                       "relationships": sorted(entry["relationships"]) or ["named on a record"],
                       "named_by": sorted(entry["via"]),
                       "services": sorted(services, key=lambda s: (s["service"], str(s["start"])))})
    return adults


def chronology(output: Path, person_id: str, responses: dict[str, list[Any]], ntk: NeedToKnow,
               reader: Reader = EVERYONE) -> dict[str, Any] | None:
    """The child's chronology, or None when no night holds the person.

    Args:
        output: the deployment's output folder.
        person_id: the child's person id.
        responses: finding id -> its responses (``alerts.responses.Response``), oldest first.
        ntk: the need-to-know configuration (services' and rules' names).
        reader: what the reader may see (everything, for the designated professionals).
    """
    labels = ntk.rule_labels()
    per_night = _refs_by_night(output, person_id)
    found = child_findings(output, person_id)
    if not per_night and not found:
        return None
    records = _latest_rows(per_night, CHILD_FIELDS)
    names = Counter((r.get("forename") or "", r.get("surname") or "") for r in records.values())
    dobs = Counter(r.get("dob") for r in records.values() if r.get("dob"))
    nhs = Counter(r.get("nhs_number") for r in records.values() if r.get("nhs_number"))
    episodes = [{"service": ntk.sharing.service_name(r["source"]), "source": r["source"],
                 "record_id": r["record_id"], "where": r.get("team") or r.get("practice") or "",
                 "start": r.get("start_date"), "end": r.get("end_date"), "open": bool(r.get("is_open")),
                 "cp_plan": r.get("cp_plan"), "looked_after": r.get("looked_after")}
                for r in sorted(records.values(), key=lambda r: (r["source"], str(r["record_id"])))
                if reader.service(r["source"])]
    every_appt = _appointments(per_night)
    appts = every_appt.filter(pl.col("source").map_elements(reader.service, return_dtype=pl.Boolean))
    hidden_findings = {row["finding_id"] for _, row in found if not reader.finding(row)}
    findings: dict[str, dict[str, Any]] = {}
    for night, row in found:
        if row["finding_id"] in hidden_findings:
            continue
        entry = findings.setdefault(row["finding_id"], {
            "finding_id": row["finding_id"], "rule": row["rule"],
            "rule_label": labels.get(row["rule"], row["rule"]),
            "first_seen": row.get("first_seen") or night, "nights": [], "routes": list(row.get("routes") or []),
            "row": row})
        entry["nights"].append(night)
        entry["row"] = row
    finding_adults = {str(f["row"]["adult_person_id"]) for f in findings.values() if f["row"].get("adult_person_id")}
    timeline = _timeline(episodes, appts, findings, responses, ntk)
    return {
        "person_id": person_id,
        "names": [f"{f} {s}".strip() for (f, s), _ in names.most_common()],
        "dob": dobs.most_common(1)[0][0] if dobs else None,
        "nhs_number": nhs.most_common(1)[0][0] if nhs else None,
        "nights": [n for n, _, _ in per_night], "episodes": episodes,
        "appointments": appts.to_dicts(), "missed": int((appts["outcome"] == "missed").sum()) if appts.height else 0,
        "adults": _adults(output, per_night, finding_adults, reader, ntk),
        "hidden": {"records": len(records) - len(episodes), "appointments": every_appt.height - appts.height,
                   "findings": len(hidden_findings)},
        "findings": sorted(findings.values(), key=lambda f: (str(f["first_seen"]), f["rule"])),
        "timeline": timeline,
    }


def _timeline(episodes: list[dict[str, Any]], appts: pl.DataFrame, findings: dict[str, dict[str, Any]],
              responses: dict[str, list[Any]], ntk: NeedToKnow) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for e in episodes:
        if e["start"]:
            events.append({"date": e["start"], "service": e["service"], "kind": "episode",
                           "text": f"{e['service']} episode starts ({e['where']})" if e["where"] else
                           f"{e['service']} episode starts"})
        if e["end"]:
            events.append({"date": e["end"], "service": e["service"], "kind": "episode",
                           "text": f"{e['service']} episode ends"})
    for a in appts.iter_rows(named=True):
        if a.get("appt_date") is None:
            continue
        outcome = OUTCOME_WORDS.get(a.get("outcome") or "", "outcome not recorded")
        events.append({"date": a["appt_date"], "service": ntk.sharing.service_name(a["source"]),
                       "kind": "missed" if a.get("outcome") == "missed" else "contact",
                       "text": f"{a.get('appt_type') or 'Contact'}: {outcome}"})
    for f in findings.values():
        first = f["first_seen"]
        events.append({"date": first, "service": "Findings", "kind": "finding",
                       "text": f"Finding {f['finding_id']}: {f['rule_label']}"})
        for r in responses.get(f["finding_id"], []):
            events.append({"date": r.at.date(), "service": "Findings", "kind": "response",
                           "text": f"Response to {f['finding_id']}: {r.label}"})
    return sorted(events, key=lambda e: (e["date"], e["service"], e["text"]))


def chart_svg(chron: dict[str, Any]) -> str:
    """A simple timeline chart (matplotlib SVG): one row per service, episodes as bars, contacts as dots,
    missed appointments as crosses, findings and responses as diamonds. Labels are services only.

    Args:
        chron: from :func:`chronology`.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = sorted({e["service"] for e in chron["episodes"]}
                  | {e["service"] for e in chron["timeline"] if e["service"] != "Findings"})
    rows.append("Findings")
    y = {name: i for i, name in enumerate(rows)}
    dates = [e["date"] for e in chron["timeline"]]
    fig = Figure(figsize=(9, 0.45 * len(rows) + 1.4), dpi=96)
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    today = max(dates) if dates else dt.date.today()
    for e in chron["episodes"]:
        if e["start"]:
            end = e["end"] or today
            ax.barh(y[e["service"]], max((end - e["start"]).days, 1), left=e["start"], height=0.5, color="#aecbfa")
    marks = {"contact": ("o", "#007f3b"), "missed": ("x", "#d5281b"), "finding": ("D", "#005eb8"),
             "response": ("D", "#ffb81c")}
    for kind, (marker, colour) in marks.items():
        pts = [(e["date"], y[e["service"]]) for e in chron["timeline"] if e["kind"] == kind and e["service"] in y]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=colour, s=28, zorder=3,
                       label=kind)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.grid(axis="x", color="#e8edee")
    ax.legend(loc="lower left", fontsize=8, ncols=4, frameon=False, bbox_to_anchor=(0, 1.0))
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "caseview", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.find("<svg"):], flags=re.S)
    return text.replace("<svg ", '<svg role="img" aria-label="chronology chart" class="chart" ', 1)
