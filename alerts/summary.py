"""The designated professionals' daily summary: counts and the night's health, never person data.

It says, per rule, how many findings are open, new, updated and closed; which sources were missing or
failed and whether the drop was incomplete; the linkage's quality and drift figures where the night has
them; where the report is; and how many messages are still undelivered.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.facts import long_date
from alerts.need_to_know import NeedToKnow
from alerts.rules.registry import RULE_NAMES
from alerts.state_tables import AlertMessage

log = logging.getLogger(__name__)

DROP_FILE = Path("landing") / "drop.json"
MODEL_CHECK = Path("linkage") / "model_check.json"


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("summary: cannot read %s: %s", path.name, type(exc).__name__)
        return None
    return data if isinstance(data, dict) else None


def drop_status(night_dir: Path) -> dict[str, Any]:
    """The night's drop: complete or not, sources expected, present, missing and failed.

    Reads ``landing/drop.json`` (written by the landing stage); without it, the per-source
    ``landing/sources/<source>/status.json`` files, and says the completeness is unknown.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    data = _read_json(night_dir / DROP_FILE)
    if data is not None:
        return {"known": True, "complete_drop": bool(data.get("complete_drop", True)),
                "missing": list(data.get("sources_missing") or []), "failed": list(data.get("sources_failed") or []),
                "present": list(data.get("sources_present") or [])}
    missing: list[str] = []
    failed: list[str] = []
    present: list[str] = []
    for status_file in sorted((night_dir / "landing" / "sources").glob("*/status.json")):
        status = (_read_json(status_file) or {}).get("status")
        source = status_file.parent.name
        {"missing": missing, "failed": failed}.get(str(status), present).append(source)
    return {"known": False, "complete_drop": None, "missing": missing, "failed": failed, "present": present}


def linkage_quality(night_dir: Path) -> list[tuple[str, str]]:
    """Linkage figures of the night (records, persons, share linked, links, pairs for review).

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    figures: list[tuple[str, str]] = []
    records_path, pairs_path = night_dir / "linkage" / "records.parquet", night_dir / "linkage" / "pairs.parquet"
    if records_path.is_file():
        records = pl.read_parquet(records_path, columns=["person_id"])
        sizes = records.group_by("person_id").len()
        linked = int(sizes.filter(pl.col("len") > 1).get_column("len").sum() or 0)
        figures += [("Records tonight", f"{records.height:,}"), ("People they belong to", f"{sizes.height:,}")]
        if records.height:
            figures.append(("Records linked to at least one other record", f"{linked / records.height:.1%}"))
    if pairs_path.is_file():
        decisions = pl.read_parquet(pairs_path, columns=["decision"]).get_column("decision").cast(pl.String)
        counts = Counter(decisions.to_list())
        figures += [("Links accepted", f"{counts.get('link', 0):,}"),
                    ("Pairs waiting for clerical review", f"{counts.get('review', 0):,}")]
    return figures


def drift_figures(night_dir: Path) -> list[tuple[str, str]]:
    """The linkage model and its drift when the linkage stage measured them (``linkage/model_check.json``).

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    data = _read_json(night_dir / MODEL_CHECK)
    if data is None:
        return []
    shown: list[tuple[str, str]] = []
    model: dict[str, Any] = data["model"] if isinstance(data.get("model"), dict) else {}
    if model.get("version"):
        origin = f" ({str(model['origin']).replace('_', ' ')})" if model.get("origin") else ""
        shown.append(("Linkage model", f"{model['version']}{origin}"))
    drift: dict[str, Any] = data["drift"] if isinstance(data.get("drift"), dict) else {}
    if not drift:
        return shown
    drifted = [str(d) for d in drift.get("drifted") or []]
    if drift.get("baseline") is False:
        shown.append(("Drift from the model's data", "not measured (the model has no baseline)"))
    else:
        shown.append(("Drift from the model's data", f"YES - {', '.join(drifted)}" if drifted else "no"))
    psi: dict[str, Any] = drift["psi"] if isinstance(drift.get("psi"), dict) else {}
    largest = sorted(((float(v), str(k)) for k, v in psi.items() if isinstance(v, int | float)), reverse=True)[:3]
    if largest:
        shown.append(("Largest shifts (population stability index)", ", ".join(f"{k} {v:.2f}" for v, k in largest)))
    change = drift.get("links_per_record_change")
    if isinstance(change, int | float):
        shown.append(("Links per record against the model's data", f"{change:+.1%}"))
    if isinstance(drift.get("advice"), str) and drift["advice"]:
        shown.append(("Advice", drift["advice"][:300]))
    return shown


def undelivered(session: Session, night: dt.date) -> dict[str, int]:
    """Messages of earlier nights not yet delivered, and those among them that failed at least once.

    Args:
        session: the state database session.
        night: tonight.
    """
    waiting = (AlertMessage.status.in_(("queued", "sending"))) & (AlertMessage.night < night)
    total = session.scalar(select(func.count()).select_from(AlertMessage).where(waiting)) or 0
    failed = session.scalar(select(func.count()).select_from(AlertMessage).where(
        waiting, AlertMessage.attempts > 0)) or 0
    return {"waiting": int(total), "failed": int(failed)}


def _warnings(drop: dict[str, Any], ntk: NeedToKnow, undelivered_counts: dict[str, int]) -> list[str]:
    name = ntk.sharing.service_name
    warnings = []
    if drop["complete_drop"] is False:
        warnings.append("Incomplete drop: tonight's extract had no completion marker (_SUCCESS), so some files "
                        "may be partial. Findings may be missing; tomorrow's run will catch up.")
    elif drop["complete_drop"] is None:
        warnings.append("Whether tonight's drop was complete is not known (no drop record was written).")
    for source in drop["missing"]:
        warnings.append(f"Source missing: {name(source)} sent no files tonight. Its findings are held, not "
                        "closed, and its records are not in tonight's linkage.")
    for source in drop["failed"]:
        warnings.append(f"Source failed: {name(source)} could not be used tonight (unreadable or failed the data "
                        "checks). Its findings are held, not closed.")
    if undelivered_counts["waiting"]:
        warnings.append(f"{undelivered_counts['waiting']} message(s) from earlier nights are still undelivered "
                        f"({undelivered_counts['failed']} failed at least once): see the outbox or run "
                        "'safelink retry'.")
    return warnings


def summary_context(session: Session, night_dir: Path, night: dt.date, per_rule: dict[str, Counter[str]],
                    ntk: NeedToKnow, result: Any, needs_confirmation: int,
                    enabled_rules: Sequence[str] = ()) -> dict[str, Any]:
    """Everything the summary templates show (counts and the night's health only).

    Args:
        session: the state database session.
        night_dir: ``<output>/<YYYY-MM-DD>``.
        night: the extract date.
        per_rule: counts per rule (``total``, ``new``, ``updated``, ``no_longer_found``).
        ntk: the view builder (rule labels, service names).
        result: the night's digest counts so far (``findings``, ``unrouted``, ``digests_built``).
        needs_confirmation: findings needing confirmation tonight.
        enabled_rules: the rules run tonight (shown with zeros when they found nothing).
    """
    order = list(RULE_NAMES)
    labels = ntk.rule_labels()
    rules = sorted(set(per_rule) | set(enabled_rules), key=lambda r: (order.index(r) if r in order else len(order), r))
    rows = [{"label": labels.get(r, r),
             "total": per_rule.get(r, Counter())["total"], "new": per_rule.get(r, Counter())["new"],
             "updated": per_rule.get(r, Counter())["updated"],
             "closed": per_rule.get(r, Counter())["no_longer_found"]} for r in rules]
    drop = drop_status(night_dir)
    waiting = undelivered(session, night)
    name = ntk.sharing.service_name
    sources = [("Sources used tonight", ", ".join(name(s) for s in drop["present"]) or "none"),
               ("Sources missing", ", ".join(name(s) for s in drop["missing"]) or "none"),
               ("Sources failed", ", ".join(name(s) for s in drop["failed"]) or "none"),
               ("Drop complete", {True: "yes", False: "NO - incomplete", None: "not known"}[drop["complete_drop"]])]
    totals = [("Findings open tonight", str(result.findings)), ("Needing confirmation", str(needs_confirmation)),
              ("Not routed to any lead", str(result.unrouted)), ("Finding digests tonight", str(result.digests_built)),
              ("Earlier messages still undelivered", str(waiting["waiting"]))]
    return {
        "subject": f"Safeguarding linkage daily summary {night.isoformat()}", "night": long_date(night),
        "rows": rows, "warnings": _warnings(drop, ntk, waiting), "sources": sources, "totals": totals,
        "linkage": linkage_quality(night_dir), "drift": drift_figures(night_dir),
        "report": str((night_dir / "report.html").resolve()),
        "review": str((night_dir / "review" / "review_pairs.csv").resolve()),
    }
