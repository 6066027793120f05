"""The clerical review queue: tonight's review pairs and pairs sent by ``wrong_link`` responses.

Only pairs new or changed since their last decision are shown: a pair with no decision, a pair whose
weight moved since it was decided, or a pair sent to review by a response after its last decision.
Decisions go to ``review_decisions`` (``report.record_decision``), which the next night's linkage
applies as force-link / force-split overrides.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alerts.sharing import SharingConfig
from caseview.finding_view import pairs_behind, record_label, waterfall
from caseview.nights import nights, people_rows, read
from caseview.tables import CaseViewReviewRequest, utcnow
from report import latest_decisions
from report.review import DISPLAY_FIELDS, pair_key

KEYS = ("source_l", "record_id_l", "source_r", "record_id_r")
FIELD_LABELS = {
    "forename": "Forename", "middle_names": "Middle names", "surname": "Surname", "known_as": "Known as",
    "dob": "Date of birth", "sex": "Sex", "address_line1": "Address", "postcode": "Postcode",
    "nhs_number": "NHS number", "team": "Team", "practice": "Practice",
}


def request_review(engine: Engine, row: dict[str, Any], folder: Path, requested_by: str) -> int:
    """Put the pairs behind a finding in the review queue (a ``wrong_link`` response); returns how many.

    Args:
        engine: the state database.
        row: the findings row.
        folder: the night folder it comes from.
        requested_by: the responder's e-mail address.
    """
    behind = pairs_behind(row, read(folder / "linkage" / "pairs.parquet"))
    if behind is None or behind.height == 0:
        return 0
    with Session(engine) as session, session.begin():
        for pair in behind.iter_rows(named=True):
            ids = tuple(str(pair[k]) for k in KEYS)
            session.add(CaseViewReviewRequest(
                at=utcnow(), pair_key=pair_key(*ids), source_l=ids[0], record_id_l=ids[1], source_r=ids[2],
                record_id_r=ids[3], weight=pair.get("weight"), finding_id=str(row["finding_id"]),
                requested_by=requested_by))
    return behind.height


def _requests(engine: Engine) -> dict[str, CaseViewReviewRequest]:
    with Session(engine) as session:
        rows = session.scalars(select(CaseViewReviewRequest).order_by(CaseViewReviewRequest.id)).all()
        session.expunge_all()
    return {r.pair_key: r for r in rows}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _changed(weight: float | None, decided: float | None) -> bool:
    return weight is not None and decided is not None and abs(float(weight) - float(decided)) > 1e-6


def queue(engine: Engine, output: Path, sharing: SharingConfig) -> dict[str, Any]:
    """The pairs to review now, with both records side by side and the link explanation.

    Args:
        engine: the state database.
        output: the deployment's output folder.
        sharing: the sharing matrix (the services' names).
    """
    latest = [(n, f) for n, f in nights(output) if (f / "linkage" / "pairs.parquet").exists()]
    if not latest:
        return {"night": None, "pairs": [], "decided": 0}
    night, folder = latest[-1]
    pairs = read(folder / "linkage" / "pairs.parquet")
    assert pairs is not None
    keyed = pairs.with_columns(pl.struct(list(KEYS)).map_elements(
        lambda s: pair_key(*(str(s[k]) for k in KEYS)), return_dtype=pl.String).alias("pair_key"))
    requests = _requests(engine)
    wanted = keyed.filter((pl.col("decision") == "review") | pl.col("pair_key").is_in(sorted(requests)))
    decisions = {r["pair_key"]: r for r in latest_decisions(engine=engine).iter_rows(named=True)}
    shown = []
    for pair in wanted.iter_rows(named=True):
        key = pair["pair_key"]
        last = decisions.get(key)
        request = requests.get(key)
        requested = request is not None and (last is None or _aware(request.at) > _aware(last["decided_at"]))
        if last is not None and not requested and not _changed(pair.get("weight"), last["weight"]):
            continue
        reason = ("sent by a wrong-link response" if requested else
                  "weight changed since the last decision" if last is not None else "new")
        shown.append({**pair, "reason": reason, "last": last})
    refs = {f"{p[s]}:{p[r]}" for p in shown for s, r in (("source_l", "record_id_l"), ("source_r", "record_id_r"))}
    people = people_rows(folder, refs, DISPLAY_FIELDS)
    by_ref = {} if people is None else {r["ref"]: r for r in people.iter_rows(named=True)}
    items = []
    for pair in shown:
        left = by_ref.get(f"{pair['source_l']}:{pair['record_id_l']}", {})
        right = by_ref.get(f"{pair['source_r']}:{pair['record_id_r']}", {})
        fields = [{"label": FIELD_LABELS.get(f, f), "left": _text(left.get(f)), "right": _text(right.get(f)),
                   "same": _text(left.get(f)) == _text(right.get(f))} for f in DISPLAY_FIELDS]
        last = pair["last"]
        items.append({"pair_key": pair["pair_key"], "ids": [str(pair[k]) for k in KEYS],
                      "left_label": record_label(f"{pair['source_l']}:{pair['record_id_l']}", sharing),
                      "right_label": record_label(f"{pair['source_r']}:{pair['record_id_r']}", sharing),
                      "fields": fields, "explain": waterfall(pair, sharing), "reason": pair["reason"],
                      "last": None if last is None else {"decision": last["decision"].replace("_", " "),
                                                          "reviewer": last["reviewer"]}})
    return {"night": night, "pairs": items, "decided": len(decisions)}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def find_pair(output: Path, key: str) -> tuple[dt.date, dict[str, Any]] | None:
    """A pair of the newest night's pairs by its key (for recording a decision on what was shown).

    Args:
        output: the deployment's output folder.
        key: the pair's key.
    """
    latest = [(n, f) for n, f in nights(output) if (f / "linkage" / "pairs.parquet").exists()]
    if not latest:
        return None
    night, folder = latest[-1]
    pairs = read(folder / "linkage" / "pairs.parquet")
    assert pairs is not None
    for pair in pairs.iter_rows(named=True):
        if pair_key(*(str(pair[k]) for k in KEYS)) == key:
            return night, pair
    return None
