"""The five safeguarding rules, applied with true identities to what one night's files say."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth.population import Population
    from synth.sources import Record, SourceBuilder


def _norm_street(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().upper())


def _norm_pc(s: str) -> str:
    return re.sub(r"\s+", "", s.upper())


Finding = tuple[str, str | None, str | None]


@dataclass
class NightView:
    """What the rules need from one night's files, with true identities."""

    accepted: dict[str, dict[int, Record]] = field(default_factory=dict)  # src -> rec idx -> record
    text: dict[str, dict[int, dict[str, str]]] = field(default_factory=dict)  # src -> rec idx -> fields
    mentions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # src -> (owner idx, pid)
    missed: list[tuple[int, str, int]] = field(default_factory=list)  # (pid, source, day)


def mh_named(text: str) -> bool:
    """Whether a free-text services field names a mental health service (contract definition)."""
    parts = [x.strip().lower() for x in text.split(";")]
    return any("mental health" in x or x in ("cmht", "amh") for x in parts)


def camhs_named(text: str) -> bool:
    """Whether a free-text services field names CAMHS."""
    return any("camhs" in x.strip().lower() for x in text.split(";"))


def sn_named(text: str) -> bool:
    """Whether a free-text services field names school nursing."""
    return any(x.strip().lower() in ("school nursing", "school nurse", "sn") for x in text.split(";"))


def hv_named(text: str) -> bool:
    """Whether a free-text services field names health visiting."""
    return any(x.strip().lower() in ("health visiting", "health visitor", "hv") for x in text.split(";"))


def apply_rules(pop: Population, sb: SourceBuilder, view: NightView, night: dt.date) -> list[Finding]:
    """Apply the five rules exactly as the data contract defines them.

    Args:
        pop: the true population.
        sb: the source records.
        view: what the night's files say (accepted rows only, duplicates once).
        night: the extract date.

    Returns:
        Sorted unique ``(rule, child_true_person_id, adult_true_person_id)`` rows ('' where blank).
    """
    people = pop.people

    def is_child(pid: int) -> bool:
        p = people[pid]
        eighteen = dt.date(p.dob.year + 18, p.dob.month, 28 if (p.dob.month == 2 and p.dob.day == 29) else p.dob.day)
        return p.dob <= night < eighteen

    out: set[Finding] = set()
    acc = view.accepted
    # children open to hv / sn, their flags and related people
    open_hvsn: dict[int, list[tuple[str, int]]] = defaultdict(list)
    flagged: set[int] = set()
    related: dict[int, set[int]] = defaultdict(set)
    for src in ("hv", "sn"):
        for i, rec in acc[src].items():
            open_hvsn[rec.pid].append((src, i))
            if rec.extra["cpp"] or rec.extra["lac"]:
                flagged.add(rec.pid)
        for owner, pid in view.mentions.get(src, []):
            related[acc[src][owner].pid].add(pid)
    # repeated_non_attendance
    by_child: dict[int, list[str]] = defaultdict(list)
    lo = night.toordinal() - 364
    for pid, src, day in view.missed:
        if day >= lo and day <= night.toordinal() and is_child(pid):
            by_child[pid].append(src)
    for pid, srcs in by_child.items():
        if (len(srcs) >= 3 and len(set(srcs)) >= 2) or (pid in flagged and len(srcs) >= 2):
            out.add(("repeated_non_attendance", people[pid].tid, None))
    # significant_adult
    adults: set[int] = {rec.pid for s in ("tp", "amh") for rec in acc[s].values() if not is_child(rec.pid)}
    links: dict[int, set[int]] = defaultdict(set)  # adult -> children
    named: dict[int, set[int]] = defaultdict(set)
    for src in ("tp", "amh"):
        for owner, pid in view.mentions.get(src, []):
            a = acc[src][owner].pid
            named[a].add(pid)
            links[a].add(pid)
    by_addr: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, rec in acc["gp"].items():
        t = view.text["gp"].get(i, {})
        key = (_norm_street(t.get("street", "")), _norm_pc(t.get("postcode", "")))
        if key[0] and key[1]:
            by_addr[key].add(rec.pid)
    for members in by_addr.values():
        ads = [m for m in members if m in adults]
        for a in ads:
            links[a].update(m for m in members if m != a)
    for a in adults:
        for c in links.get(a, ()):
            if c in open_hvsn and is_child(c) and a not in related.get(c, set()) and a != c:
                out.add(("significant_adult", people[c].tid, people[a].tid))
    # dual_service_parent
    tp_open = {rec.pid: (i, rec) for i, rec in acc["tp"].items() if rec.end is None or rec.end > night.toordinal()}
    amh_open = {rec.pid: (i, rec) for i, rec in acc["amh"].items() if rec.end is None or rec.end > night.toordinal()}
    known: set[int] = {rec.pid for records in acc.values() for rec in records.values()}
    named_any: set[int] = set()
    for src in ("tp", "amh"):
        for owner, _pid in view.mentions.get(src, []):
            named_any.add(acc[src][owner].pid)
    for a in set(tp_open) & set(amh_open):
        _, tp_rec = tp_open[a]
        _, amh_rec = amh_open[a]
        parent = tp_rec.extra["parental"].startswith("Parent") or amh_rec.extra["hdc"] == "Yes" or a in named_any
        if not parent:
            continue
        if not mh_named(tp_rec.extra["other"]) or amh_rec.extra["smi"] != "Yes":
            # "one of the adult's children where known": the eldest named child known to a service
            # (holding an accepted people record); twins by true id.
            kids = sorted((people[k].dob, people[k].tid) for k in named.get(a, ()) if k in known)
            out.add(("dual_service_parent", kids[0][1] if kids else None, people[a].tid))
    # unshared_involvement
    for i, rec in acc["camhs"].items():
        if not view.text["camhs"].get(i, {}).get("open"):
            continue
        c = rec.pid
        if c not in open_hvsn or not is_child(c):
            continue
        kp = rec.extra["other"]
        for src, j in open_hvsn[c]:
            names_service = sn_named(kp) if src == "sn" else hv_named(kp)
            other = acc[src][j].extra["other"]
            if not names_service or not camhs_named(other):
                out.add(("unshared_involvement", people[c].tid, None))
    out |= cumulative_concern(out)
    return sorted(out, key=lambda t: (t[0], t[1] or "", t[2] or ""))


def cumulative_concern(findings: set[Finding]) -> set[Finding]:
    """``cumulative_concern``: each child named as the child by findings of at least two different rules.

    Args:
        findings: the night's findings of the other four rules.
    """
    rules_naming: dict[str, set[str]] = defaultdict(set)
    for rule, child, _adult in findings:
        if child:
            rules_naming[child].add(rule)
    return {("cumulative_concern", child, None) for child, rules in rules_naming.items() if len(rules) >= 2}
