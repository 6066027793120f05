"""Run health for engineers: each night's stages, durations, source gates and outbox (counts only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from alerts.state_tables import AlertMessage
from caseview.nights import nights


def run_health(engine: Engine, output: Path, limit: int = 30) -> list[dict[str, Any]]:
    """The newest nights first: stage durations and statuses, source gates, outbox states. No person data.

    Args:
        engine: the state database.
        output: the deployment's output folder.
        limit: how many nights.
    """
    with Session(engine) as session:
        counts = session.execute(select(AlertMessage.night, AlertMessage.status, func.count())
                                 .group_by(AlertMessage.night, AlertMessage.status)).all()
    outbox: dict[str, dict[str, int]] = {}
    for night, status, n in counts:
        outbox.setdefault(night.isoformat(), {})[str(status)] = int(n)
    out = []
    for night, folder in reversed(nights(output)[-limit:]):
        summary = _summary(folder / "run_summary.json")
        stages = summary.get("stages", {}) if summary else {}
        sources = [{"source": name.removeprefix("ingest_"), "status": s.get("status", ""), "gate": s.get("gate", ""),
                    "people": s.get("people", 0), "quarantined": s.get("quarantined", 0)}
                   for name, s in stages.items() if name.startswith("ingest_") and isinstance(s, dict)]
        durations = summary.get("durations_s", {}) if summary else {}
        out.append({"night": night.isoformat(), "complete": summary is not None,
                    "total_s": round(sum(float(v) for v in durations.values()), 1),
                    "durations": durations, "sources": sources,
                    "links": (stages.get("link") or {}).get("links"),
                    "review_pairs": (stages.get("link") or {}).get("review_pairs"),
                    "findings": (stages.get("detect") or {}).get("findings"),
                    "outbox": outbox.get(night.isoformat(), {})})
    return out


def _summary(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None
