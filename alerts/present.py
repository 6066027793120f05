"""How people are shown in a digest: initials and a masked NHS number; a link confidence as a percentage.

Nothing here returns a full name, a date of birth or an address. What else a recipient sees of a finding
is decided by :mod:`alerts.need_to_know`.
"""

from __future__ import annotations

import re


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
