"""Masking of values shown in quarantine files, logs and reports."""

from __future__ import annotations

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
        return value
    lowered = column.lower()
    if any(word in lowered for word in _IDENTIFIER_WORDS):
        return ("*" * max(len(value) - 3, 0)) + value[-3:]
    if any(word in lowered for word in _IDENTIFYING_WORDS):
        return f"<masked: {len(value)} characters>"
    shown = value if len(value) <= 60 else value[:57] + "..."
    return shown
