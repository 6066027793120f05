"""Masking of values shown in quarantine files, logs and reports."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_SHOWN = 60

# Source columns that hold identifying data: shown only by their shape, never their content.
_IDENTIFYING_WORDS = ("name", "nhs", "birth", "dob", "d.o.b", "address", "post", "street", "house", "village",
                      "town", "forename", "surname", "known as", "title")
_IDENTIFIER_WORDS = ("patient id", "patientid", "client_id", "client id", "emis", "patient ref", "rio id")


def mask_value(column: str | None, value: str | None) -> str:
    """Show enough of a set-aside value to act on without exposing who it is about.

    Identifiers keep their last three characters; names, dates of birth, NHS numbers and
    addresses are reduced to their length; codes and appointment dates are shown as they are.

    Args:
        column: the source column the value came from.
        value: the raw value.
    """
    if value is None:
        return ""
    if column is None:
        return _visible(value)
    lowered = column.lower()
    if any(word in lowered for word in _IDENTIFIER_WORDS):
        if len(value) > MAX_SHOWN // 2:
            return f"<{len(value)} characters, ending {_visible(value[-3:])}>"
        return ("*" * max(len(value) - 3, 0)) + _visible(value[-3:])
    if any(word in lowered for word in _IDENTIFYING_WORDS):
        return f"<masked: {len(value)} characters>"
    return _shown(value)


def _visible(text: str) -> str:
    """Control characters (NUL, CR, escape...) written as ``\\xNN`` so that they cannot act on a terminal or file."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _shown(value: str) -> str:
    shown = value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 3] + "..."
    return _visible(shown)
