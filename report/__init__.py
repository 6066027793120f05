"""The nightly linkage report (``report.html``) and the clerical review loop.

Entry points:

- :func:`build_report` — called by the pipeline's report stage.
- :func:`import_review` — record a reviewer's filled-in ``review/review_pairs.csv``.
- :func:`review_overrides` — the reviewers' force_link / force_split instructions for the linkage engine.

Imports are lazy so that registering the state tables (``report.state_tables``) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from report.build import ReportResult, build_report
    from report.review import ImportResult, import_review, latest_decisions, record_decision, review_overrides

__all__ = ["ImportResult", "ReportResult", "build_report", "import_review", "latest_decisions", "record_decision",
           "review_overrides"]

_WHERE = {
    "ReportResult": "report.build", "build_report": "report.build",
    "ImportResult": "report.review", "import_review": "report.review",
    "latest_decisions": "report.review", "review_overrides": "report.review", "record_decision": "report.review",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'report' has no attribute {name!r}")
