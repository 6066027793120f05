"""Every stage's state tables, registered on :class:`ground.state.Base` (for ``make migration`` and the
test that the migrations agree with the models)."""

from __future__ import annotations

from sqlalchemy import MetaData

from alerts import state_tables as alerts_tables
from alerts.rules import state_tables as rules_tables
from caseview import tables as caseview_tables
from ground.state import Base
from linkage import review_decisions
from linkage import state_tables as linkage_tables
from report import state_tables as report_tables

TABLE_MODULES = (linkage_tables, review_decisions, rules_tables, alerts_tables, report_tables, caseview_tables)


def all_tables() -> MetaData:
    """The metadata holding every stage's tables."""
    return Base.metadata
