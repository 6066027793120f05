"""One finding as a recipient sees it: the digests' need-to-know view plus the link explanation.

What the finding says (people as initials and masked NHS numbers, the services it rests on, the facts the
sharing matrix lets this recipient see, why it matters, the next step, who leads) is the alerts stage's
:meth:`alerts.need_to_know.NeedToKnow.view`, the same call the digests make. Added here: the link
explanation, a waterfall per record pair behind the finding with each comparison's level by name, and
the guards that kept records apart (records by service and record id only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from alerts.leads import DESIGNATED_KEY
from alerts.need_to_know import NeedToKnow, RecordIndex
from alerts.present import confidence_label
from alerts.responses import finding_fingerprint
from alerts.sharing import SharingConfig
from caseview.nights import read

FIELD_WORDS: dict[str, str] = {
    "forename": "forename", "surname": "surname", "dob": "date of birth", "location": "address",
    "nhs": "NHS number", "sex": "sex",
}
# Graded name levels (``linkage.compare.NAME_LEVELS``); older nights' files may hold the earlier names too.
_NAME_WORDS = {"initial": "an initial for the name", "phonetic": "sounds the same, spelt differently",
               "jaro_winkler_80": "spelt similarly", "jaro_winkler_92": "spelt very similarly",
               "one_edit": "one letter different (one edit)"}
LEVEL_WORDS: dict[str, dict[str, str]] = {
    "forename": {"different": "different", "close": "spelt closely (a slip or one edit)", **_NAME_WORDS,
                 "nickname_or_alt": "a nickname or alternative name", "exact": "the same",
                 "swapped": "swapped with the surname", "crossed": "written as the other record's surname"},
    "surname": {"different": "different", "close": "spelt closely (one edit, or sounds the same)", **_NAME_WORDS,
                "partial": "one part of a double surname", "token": "one part of a multi-part surname",
                "exact": "the same", "swapped": "swapped with the forename"},
    "dob": {"different": "different", "within_10_years": "different, within ten years",
            "year_only": "the same year only", "one_digit": "one digit different",
            "day_month_swapped": "day and month swapped", "exact": "the same"},
    "location": {"different": "different", "outward": "the same postcode district",
                 "sector": "the same postcode sector", "street": "the same street",
                 "postcode": "the same postcode, a different address line",
                 "address_only": "the same address line, postcode different or missing",
                 "postcode_and_address": "the same postcode and address"},
    "nhs": {"different": "different", "exact": "the same"},
    "sex": {"different": "different", "same": "the same"},
}
GUARD_MEANINGS: dict[str, str] = {
    "twins": "possible twins (same date of birth, surname and address, different forenames): kept apart",
    "namesake": "same name but birth years far apart (a parent and child, or namesakes): kept apart",
    "twins_doubt": "looks like twins, with no second twin on record: not joined, sent to clerical review",
    "namesake_doubt": "one name a generation apart at one address, not confirmed: not joined, sent to review",
    "nhs_conflict": "the records hold different NHS numbers: kept apart",
    "same_source": "two records of one service would have been joined: kept apart",
    "same_source_dob": "two records of one service with different dates of birth: kept apart",
    "review_split": "a reviewer decided these are different people: kept apart",
}


def level_words(field: str, level: str | None) -> str:
    """A comparison level in words (``"surname: spelt closely ..."``).

    Args:
        field: the comparison.
        level: its level name (``missing`` when a side was blank), or None when not recorded.
    """
    name = FIELD_WORDS.get(field, field)
    if level is None:
        return f"{name}: not recorded"
    if level == "missing":
        return f"{name}: missing"
    return f"{name}: {LEVEL_WORDS.get(field, {}).get(level, level.replace('_', ' '))}"


@dataclass(frozen=True)
class Shown:
    """Which services a reader may see in a link explanation, and whose record ids (None: all of them).

    For a lead these are the services their need-to-know view shows, and their own services' ids only.
    """

    services: frozenset[str] | None = None
    ids: frozenset[str] | None = None

    def service(self, source: str) -> bool:
        """Whether the reader may see that a record of this service is involved.

        Args:
            source: a source key.
        """
        return self.services is None or source in self.services


EVERYTHING = Shown()


def record_label(ref: str, sharing: SharingConfig, shown: Shown = EVERYTHING) -> str:
    """``Health visiting 104500`` for ``hv:104500`` (``Health visiting record`` when its id is not shown).

    Args:
        ref: ``source:record_id``.
        sharing: the sharing matrix (the services' names).
        shown: what the reader may see.
    """
    source, _, record_id = ref.partition(":")
    if shown.ids is not None and source not in shown.ids:
        return f"{sharing.service_name(source)} record"
    return f"{sharing.service_name(source)} {record_id}"


def waterfall(pair: dict[str, Any], sharing: SharingConfig, shown: Shown = EVERYTHING) -> dict[str, Any]:
    """The steps from the prior to a pair's total weight, each comparison named with its level.

    Args:
        pair: a ``linkage/pairs.parquet`` row.
        sharing: the sharing matrix (the services' names).
        shown: what the reader may see (record ids).
    """
    fields = [c[2:] for c in pair if c.startswith("w_")]
    total = float(pair.get("weight") or 0.0)
    weights = [(f, float(pair.get(f"w_{f}") or 0.0)) for f in fields]
    labelled = [("prior (how likely any two records match)", total - sum(w for _, w in weights))]
    labelled += [(level_words(f, pair.get(f"level_{f}")), w) for f, w in weights]
    running, lo, hi = 0.0, 0.0, 0.0
    spans = []
    for _, weight in labelled:
        spans.append((running, running + weight))
        running += weight
        lo, hi = min(lo, running), max(hi, running)
    scale = (hi - lo) or 1.0
    steps: list[dict[str, Any]] = []
    for (label, weight), (start, end) in zip(labelled, spans, strict=True):
        a, b = sorted([start, end])
        steps.append({"label": label, "weight": weight, "start": start, "end": end,
                      "x": round(100.0 * (a - lo) / scale, 2), "w": round(max(0.5, 100.0 * (b - a) / scale), 2)})
    guard = pair.get("guard")
    return {"left": record_label(f"{pair['source_l']}:{pair['record_id_l']}", sharing, shown),
            "right": record_label(f"{pair['source_r']}:{pair['record_id_r']}", sharing, shown),
            "weight": total, "probability": pair.get("match_probability"), "decision": pair.get("decision"),
            "guard": guard, "guard_meaning": GUARD_MEANINGS.get(str(guard), "") if guard else "",
            "steps": steps, "zero_x": round(100.0 * (0.0 - lo) / scale, 2)}


def _refs(row: dict[str, Any]) -> tuple[set[str], set[str]]:
    return set(row.get("child_records") or []), set(row.get("adult_records") or [])


def _keyed(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.with_columns(
        (pl.col("source_l") + ":" + pl.col("record_id_l").cast(pl.String)).alias("_l"),
        (pl.col("source_r") + ":" + pl.col("record_id_r").cast(pl.String)).alias("_r"),
    )


def pairs_behind(row: dict[str, Any], pairs: pl.DataFrame | None) -> pl.DataFrame | None:
    """The accepted links that joined the finding's records into its child and its adult.

    Args:
        row: the findings row.
        pairs: the night's ``linkage/pairs.parquet``.
    """
    if pairs is None:
        return None
    child, adult = _refs(row)
    keyed = _keyed(pairs).filter(pl.col("decision") == "link")
    within = pl.lit(False)
    for group in (child, adult):
        if len(group) > 1:
            members = sorted(group)
            within = within | (pl.col("_l").is_in(members) & pl.col("_r").is_in(members))
    return keyed.filter(within).drop("_l", "_r")


def guards_near(row: dict[str, Any], pairs: pl.DataFrame | None, sharing: SharingConfig,
                shown: Shown = EVERYTHING) -> list[dict[str, str]]:
    """Guards that kept another record apart from the finding's people (records by service and id only).

    Args:
        row: the findings row.
        pairs: the night's ``linkage/pairs.parquet``.
        sharing: the sharing matrix (the services' names).
        shown: what the reader may see (only guards between services they may see).
    """
    if pairs is None or "guard" not in pairs.columns:
        return []
    child, adult = _refs(row)
    members = sorted(child | adult)
    near = _keyed(pairs).filter(pl.col("guard").is_not_null()
                                & (pl.col("_l").is_in(members) | pl.col("_r").is_in(members)))
    return [{"left": record_label(r["_l"], sharing, shown), "right": record_label(r["_r"], sharing, shown),
             "guard": str(r["guard"]), "meaning": GUARD_MEANINGS.get(str(r["guard"]), "")}
            for r in near.iter_rows(named=True) if shown.service(r["source_l"]) and shown.service(r["source_r"])]


def finding_view(row: dict[str, Any], night: dt.date, folder: Path, ntk: NeedToKnow,
                 recipient_key: str) -> dict[str, Any]:
    """Everything the finding page shows: the recipient's need-to-know view and the link explanation.

    Args:
        row: the findings row.
        night: the night it comes from.
        folder: that night's folder.
        ntk: the need-to-know view builder (its configuration; the night's records are read here).
        recipient_key: the reader's lead key, or ``designated``.
    """
    night_ntk = NeedToKnow(ntk.sharing, ntk.leads, RecordIndex(read(folder / "landing" / "people.parquet")), "")
    recipient = night_ntk.recipient(recipient_key if recipient_key else DESIGNATED_KEY)
    view = night_ntk.view(row, recipient)
    shown = EVERYTHING if recipient.designated else Shown(
        services=frozenset(b.service for b in view.services), ids=frozenset(b.service for b in view.services if b.own))
    pairs = read(folder / "linkage" / "pairs.parquet")
    behind = pairs_behind(row, pairs)
    falls = [] if behind is None else [waterfall(p, ntk.sharing, shown) for p in behind.iter_rows(named=True)
                                       if shown.service(p["source_l"]) and shown.service(p["source_r"])]
    return {
        **view.as_dict(), "finding_id": row["finding_id"], "night": night.isoformat(),
        "status": row.get("status") or "", "confidence": confidence_label(row.get("link_confidence")),
        "child_person_id": row.get("child_person_id"), "waterfalls": falls,
        "guards": guards_near(row, pairs, ntk.sharing, shown), "fingerprint": finding_fingerprint(row),
    }
