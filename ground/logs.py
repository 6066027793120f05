"""Structured logging without person data, for the CLI and the Airflow tasks.

Log lines carry stage names, counts, paths and durations; never names, dates of birth, addresses or
NHS numbers (the library logs counts only, and ``tests/test_logging.py`` checks a whole run).
As a second line of defence :class:`RedactFilter` masks anything shaped like an NHS number
(ten digits, with or without the 3-3-4 spaces) before a record is written.

Two formats (``SAFELINK_LOG_FORMAT``): ``kv`` (default, ``key=value`` on one line, easy to grep)
and ``json`` (one object per line, for a log shipper). ``SAFELINK_LOG_LEVEL`` sets the level.

* CLI: call :func:`configure_logging` once at start-up (replaces the root handlers it installed before).
* Airflow tasks: Airflow owns the handlers; :func:`install_redaction` adds the mask to them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
from typing import IO, Any

# 10 digits not inside a longer run of digits; also 3-3-4 with spaces or dashes.
NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
MASK = "[nhs-number]"
_HANDLER_FLAG = "_safelink_handler"
# Attributes every LogRecord has: anything else on a record came from ``extra=`` and is logged as a field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                      "taskName"}
# Libraries that are chatty at INFO and say nothing an operator needs.
QUIET_LOGGERS = ("great_expectations", "urllib3", "matplotlib", "asyncio", "mail.log", "filelock", "recordlinkage")


def redact(text: str) -> str:
    """``text`` with every NHS-number-shaped digit run masked.

    Args:
        text: any text bound for a log or a notice.
    """
    return NHS_LIKE.sub(MASK, text)


class RedactFilter(logging.Filter):
    """Masks NHS-number-shaped digit runs in the rendered message (and its ``extra`` string fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it.

        Args:
            record: the log record.
        """
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: leave it to the formatter to report
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            data[key] = value
    if record.exc_info and record.exc_info[0] is not None:
        data["error"] = record.exc_info[0].__name__
    return data


class _RedactingFormatter(logging.Formatter):
    """Tracebacks carry exception messages, which may quote data: they are masked like messages."""

    def formatException(self, ei: Any) -> str:
        """Render and mask a traceback.

        Args:
            ei: the exception info.
        """
        return redact(super().formatException(ei))


class JsonFormatter(_RedactingFormatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg`` and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record.

        Args:
            record: the log record.
        """
        data = _fields(record)
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def _kv_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(_RedactingFormatter):
    """``ts=… level=info logger=landing.ingest msg="…" key=value``: one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record.

        Args:
            record: the log record.
        """
        line = " ".join(f"{k}={_kv_value(v)}" for k, v in _fields(record).items())
        if record.exc_info:
            line += " traceback=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        return line


def configure_logging(
    level: str | int | None = None,
    fmt: str | None = None,
    stream: IO[str] | None = None,
    redact_nhs_numbers: bool = True,
) -> logging.Handler:
    """Install one structured handler on the root logger (idempotent: replaces the one installed before).

    Args:
        level: log level; default ``SAFELINK_LOG_LEVEL`` or ``INFO``.
        fmt: ``kv`` or ``json``; default ``SAFELINK_LOG_FORMAT`` or ``kv``.
        stream: where to write; default stderr.
        redact_nhs_numbers: add :class:`RedactFilter` (tests switch it off to prove the library logs no PII).

    Returns:
        The installed handler.
    """
    level = level or os.environ.get("SAFELINK_LOG_LEVEL", "INFO").upper()
    fmt = (fmt or os.environ.get("SAFELINK_LOG_FORMAT", "kv")).lower()
    if fmt not in ("kv", "json"):
        raise ValueError(f"log format must be 'kv' or 'json', not {fmt!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_FLAG, True)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    if redact_nhs_numbers:
        handler.addFilter(RedactFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler


def install_redaction() -> None:
    """Add :class:`RedactFilter` to every root handler that lacks one (for handlers Airflow installed)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())
