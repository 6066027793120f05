"""What a record identifier and a source key may look like: one definition for ingest, state and review.

A record identifier is the source system's own key for a row (``Patient ID``, ``CLIENT_ID``...). It is
stored in the state database (``String(RECORD_ID_MAX_LENGTH)``), written to ``person_links.csv`` and
shown in digests, so the ingest sets aside any row whose identifier could break one of those: too long
for the column, a character outside the allowed set (control characters included), or a first
character a spreadsheet reads as a formula (``= + - @``).
"""

from __future__ import annotations

import re

import polars as pl

RECORD_ID_MAX_LENGTH = 64
RECORD_ID_CHARACTERS = "A-Za-z0-9_.:/-"  # a regex character-class body
FORMULA_PREFIXES = "=+-@"
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"
_FORMULA = r"^[=+\-@]"
_ALLOWED = rf"^[A-Za-z0-9][{RECORD_ID_CHARACTERS}]*$"

SOURCE_KEY_MAX_LENGTH = 16
SOURCE_KEY_PATTERN = rf"^[a-z][a-z0-9_]{{0,{SOURCE_KEY_MAX_LENGTH - 1}}}$"

# (reason, what is wrong) in the order they are reported: the first that applies names the row's reason.
RECORD_ID_PROBLEMS = (
    ("identifier_control_character", "the identifier holds a control character"),
    ("identifier_formula_prefix", f"the identifier begins with one of {' '.join(FORMULA_PREFIXES)}"),
    ("identifier_too_long", f"the identifier is over {RECORD_ID_MAX_LENGTH} characters"),
    ("identifier_bad_characters",
     f"the identifier must begin with a letter or digit and hold only {RECORD_ID_CHARACTERS}"),
)


def record_id_problem_expressions(value: pl.Expr) -> list[tuple[pl.Expr, str]]:
    """``(condition, reason)`` per identifier problem, as polars expressions over a string column.

    Args:
        value: the (trimmed) identifier; null is not a problem here (blank identifiers are their own reason).
    """
    conditions = (
        value.str.contains(_CONTROL),
        value.str.contains(_FORMULA),
        value.str.len_chars() > RECORD_ID_MAX_LENGTH,
        ~value.str.contains(_ALLOWED),
    )
    return [(condition.fill_null(False), reason)
            for condition, (reason, _) in zip(conditions, RECORD_ID_PROBLEMS, strict=True)]


def record_id_problem(value: str) -> str | None:
    """The reason a single identifier is unusable, or None when it is fine.

    Args:
        value: the identifier as written (already trimmed).
    """
    checks = (
        re.search(_CONTROL, value) is not None,
        re.search(_FORMULA, value) is not None,
        len(value) > RECORD_ID_MAX_LENGTH,
        re.search(_ALLOWED, value) is None,
    )
    return next((reason for failed, (reason, _) in zip(checks, RECORD_ID_PROBLEMS, strict=True) if failed), None)


def describe_record_id_problem(reason: str) -> str:
    """A sentence for a reason code from :data:`RECORD_ID_PROBLEMS`.

    Args:
        reason: the reason code.
    """
    return dict(RECORD_ID_PROBLEMS).get(reason, reason)
