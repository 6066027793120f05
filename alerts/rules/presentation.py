"""What a finding rests on, as plain-English facts per service: the types and wording helpers rule modules
present their findings with (each rule's ``present`` hook).

A rule's evidence (``findings.parquet`` column ``evidence``) names records, rows and raw values. The
functions here turn it into :class:`Fact` objects: one plain sentence each, about one service (or the
finding as a whole), in two wordings: as told to another service (``text``) and as told to the service
that holds the record (``own_text``). Which facts reach which recipient is decided by the sharing matrix
(:mod:`alerts.sharing`), never here.

Nothing here produces an appointment time, a clinical or outcome code, a file name, a row number or a
free-text field: those are not facts any recipient is told.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Facts only the service holding the record may see (enforced by alerts.sharing).
OWN_ONLY_FACTS = frozenset({"record_ids", "missed_dates"})
# Facts every rule has.
GENERIC_FACTS = frozenset({"record_ids"})


@dataclass(frozen=True)
class Fact:
    """One thing a finding rests on.

    Attributes:
        kind: the fact's name in the sharing matrix (``missed_count``, ``not_shared`` ...).
        service: the source key the fact is about; None for the finding as a whole.
        text: the sentence for a reader in another service.
        own_text: the sentence for the service holding the record (defaults to ``text``).
        records: ``source:record_id`` of the records the fact comes from (to find their team, never shown
            to another service).
    """

    kind: str
    service: str | None
    text: str
    own_text: str = ""
    records: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A stable identity for comparing one night's facts with another's."""
        return f"{self.kind}:{self.service or ''}"

    def told_to(self, own: bool) -> str:
        """The sentence for the service holding the record (``own``) or another service.

        Args:
            own: whether the reader works in the service the fact is about.
        """
        return (self.own_text or self.text) if own else self.text


@dataclass(frozen=True)
class FindingFacts:
    """A finding as facts: a headline every recipient may read, and the facts per service."""

    headline: str
    facts: list[Fact] = field(default_factory=list)


def parse_evidence(evidence: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The evidence JSON as a dict (empty when absent or unreadable).

    Args:
        evidence: the JSON text or an already parsed mapping.
    """
    if evidence is None:
        return {}
    if isinstance(evidence, Mapping):
        return dict(evidence)
    try:
        parsed = json.loads(evidence)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def parse_date(value: Any) -> dt.date | None:
    """A date from a date or an ISO string (None when neither).

    Args:
        value: the value.
    """
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def long_date(day: dt.date) -> str:
    """``14 April 2026`` (no leading zero; never a time of day).

    Args:
        day: the date.
    """
    return f"{day.day} {day:%B %Y}"


def period(days: Sequence[dt.date]) -> str:
    """A span of dates to the month: ``in April 2026`` or ``between December 2025 and August 2026``.

    Args:
        days: the dates (at least one).
    """
    first, last = min(days), max(days)
    if (first.year, first.month) == (last.year, last.month):
        return f"in {first:%B %Y}"
    return f"between {first:%B %Y} and {last:%B %Y}"


def plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def record_ref(item: Mapping[str, Any]) -> tuple[str, ...]:
    source, record = item.get("source"), item.get("record_id")
    return (f"{source}:{record}",) if source and record else ()


