"""How findings are shown to a lead: initials, masked NHS number, source record ids, safe evidence.

Nothing here returns a full name, a date of birth or an address. Evidence is shown through an
allow-list: dates, counts, flags and lower-case codes, under keys that do not name personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from alerts.rules.registry import RULE_LABELS, RULE_NAMES

SOURCE_LABELS: dict[str, str] = {
    "hv": "Health visiting", "sn": "School nursing", "camhs": "CAMHS", "gp": "GP",
    "dental": "Dental", "tp": "Turning Point", "amh": "Adult mental health",
}
__all__ = ["RULE_LABELS", "RULE_ORDER"]  # each rule's title comes from its module, through the registry
RULE_ORDER = list(RULE_NAMES)
CHANGE_LABELS: dict[str, str] = {
    "new": "New",
    "updated": "Updated",
    "no_longer_found": "No longer found",
    "moved": "No longer routed to you",
}
_PII_KEY_WORDS = ("name", "forename", "surname", "dob", "birth", "address", "postcode", "street", "nhs",
                  "phone", "email", "school", "staff", "clinician", "worker", "coordinator", "known_as", "alias")
_SKIP_KEYS = {"rule", "rule_version", "file", "row"}  # shown elsewhere, or provenance noise
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
_CODE = re.compile(r"^[a-z0-9_.:-]{1,40}$")


def mask_nhs(nhs_number: str | None, visible: int) -> str:
    """Show an NHS number as ``*** *** 1234`` (``visible`` trailing digits; 0 hides it).

    Args:
        nhs_number: 10 digits, or None.
        visible: how many trailing digits to show (0-10).
    """
    if not nhs_number:
        return "not recorded"
    digits = re.sub(r"\D", "", nhs_number)
    if len(digits) != 10:
        return "not recorded"
    if visible <= 0:
        return "recorded (hidden)"
    shown = "*" * (10 - visible) + digits[10 - visible:]
    return f"{shown[:3]} {shown[3:6]} {shown[6:]}"


def initials(forename: str | None, surname: str | None) -> str:
    """Initials such as ``A.M.`` (``?`` for a missing part).

    Args:
        forename: given name as written.
        surname: family name as written.
    """
    def first(value: str | None) -> str:
        letters = [c for c in (value or "") if c.isalpha()]
        return letters[0].upper() if letters else "?"

    return f"{first(forename)}.{first(surname)}."


@dataclass(frozen=True)
class PersonView:
    """One person as a digest shows them."""

    role: str
    initials: str
    nhs: str
    records: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored for the "no longer found" entry)."""
        return {"role": self.role, "initials": self.initials, "nhs": self.nhs, "records": list(self.records)}


class PeopleIndex:
    """Look up people records by ``source:record_id`` (from ``landing/people.parquet``).

    Args:
        people: a frame with ``source``, ``record_id``, ``forename``, ``surname``, ``nhs_number``.
    """

    def __init__(self, people: pl.DataFrame | None) -> None:
        self._rows: dict[str, tuple[str | None, str | None, str | None]] = {}
        if people is None or people.is_empty():
            return
        cols = [c for c in ("source", "record_id", "forename", "surname", "nhs_number") if c in people.columns]
        frame = people.select(cols)
        for row in frame.iter_rows(named=True):
            key = f"{row['source']}:{row['record_id']}"
            self._rows[key] = (row.get("forename"), row.get("surname"), row.get("nhs_number"))

    def view(self, role: str, record_keys: Iterable[str], nhs_visible: int, show_record_ids: bool) -> PersonView:
        """The person behind a set of records.

        Args:
            role: ``Child`` or ``Adult``.
            record_keys: ``source:record_id`` strings.
            nhs_visible: trailing NHS digits to show.
            show_record_ids: whether to list each source's own record id.
        """
        keys = [k for k in record_keys if k]
        found = [self._rows[k] for k in keys if k in self._rows]
        inits = Counter(initials(f, s) for f, s, _ in found)
        nhs = Counter(n for _, _, n in found if n)
        shown_initials = inits.most_common(1)[0][0] if inits else "?.?."
        shown_nhs = " / ".join(mask_nhs(n, nhs_visible) for n, _ in nhs.most_common()) or mask_nhs(None, nhs_visible)
        records: list[str] = []
        if show_record_ids:
            for key in keys:
                source, _, record_id = key.partition(":")
                records.append(f"{SOURCE_LABELS.get(source, source)} {record_id}")
        return PersonView(role=role, initials=shown_initials, nhs=shown_nhs, records=records)


def _safe_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in _SKIP_KEYS:
        return False
    return not any(word in lowered for word in _PII_KEY_WORDS)


def _safe_scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if _DATE.match(text) or _CODE.match(text):
            return text
    return None


def _humanise(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def evidence_lines(evidence: str | Mapping[str, Any] | None) -> list[str]:
    """Safe, readable lines from a finding's evidence JSON: what fired and when.

    Only dates, numbers, flags and lower-case codes are kept, under keys that do not name personal
    data; anything else (names, free text, dates of birth) is left out.

    Args:
        evidence: the evidence JSON string (or already-parsed mapping).
    """
    if evidence is None:
        return []
    if isinstance(evidence, str):
        try:
            parsed: Any = json.loads(evidence)
        except ValueError:
            return []
    else:
        parsed = evidence
    lines: list[str] = []

    def walk(label: str, value: Any) -> None:
        if isinstance(value, Mapping):
            parts: list[str] = []
            nested: list[tuple[str, Any]] = []
            for k, v in value.items():
                if not _safe_key(str(k)):
                    continue
                shown = _safe_scalar(v)
                if shown is not None:
                    parts.append(f"{_humanise(str(k)).lower()} {shown}")
                elif isinstance(v, Mapping | list):
                    nested.append((str(k), v))
            if parts:
                lines.append(f"{label}: {', '.join(parts)}" if label else ", ".join(parts))
            for k, v in nested:
                walk(f"{label} / {_humanise(k)}" if label else _humanise(k), v)
        elif isinstance(value, list):
            scalars = [s for s in (_safe_scalar(v) for v in value) if s is not None]
            if scalars:
                lines.append(f"{label}: {', '.join(scalars)}" if label else ", ".join(scalars))
            for item in value:
                if isinstance(item, Mapping | list):
                    walk(label, item)
        else:
            shown = _safe_scalar(value)
            if shown is not None and label:
                lines.append(f"{label}: {shown}")

    walk("", parsed)
    return lines[:40]


def confidence_label(value: float | None) -> str:
    """Link confidence as shown (a probability as a percentage).

    Args:
        value: the finding's link confidence (0-1), or None.
    """
    if value is None:
        return "not stated"
    if 0 <= value <= 1:
        return f"{value * 100:.1f}%"
    return f"{value:g}"
