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
import logging.handlers
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

# 10 digits not inside a longer run of digits; also 3-3-4 with spaces or dashes.
NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
MASK = "[nhs-number]"
_HANDLER_FLAG = "_safelink_handler"
_DEBUG_FLAG = "_safelink_debug"
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


_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_DATE_LIKE = re.compile(r"\b(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2})\b")
_POSTCODE_LIKE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def redact_traceback(text: str) -> str:
    """A traceback with the values in its exception messages masked; file names, lines and code kept.

    Frame lines (``File "...", line N``) and the source lines under them come from the code, not the
    data, and are kept. Every other line (the exception messages, chained or not) has quoted literals,
    NHS-number-, date-, postcode- and address-shaped text masked, so a value that reached an exception
    message (a name in a ``KeyError``, a row in an SQL error) never reaches the log.

    Args:
        text: a formatted traceback.
    """
    out = []
    for line in text.splitlines():
        if line.startswith(("  File ", "    ", "Traceback (most recent call last)")):
            out.append(line)
            continue
        masked = _QUOTED.sub("'[redacted]'", line)
        masked = _EMAIL_LIKE.sub("[address]", masked)
        masked = NHS_LIKE.sub(MASK, masked)
        masked = _DATE_LIKE.sub("[date]", masked)
        out.append(_POSTCODE_LIKE.sub("[postcode]", masked))
    return "\n".join(out)


def log_fields(counts: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Counts as ``extra=`` fields for a key=value log line: scalars kept, one level of nesting flattened.

    Args:
        counts: a stage's counts (numbers, strings, lists, one level of dicts).
        prefix: put before every key (``send.``).
    """
    fields: dict[str, Any] = {}
    for key, value in counts.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            for inner, item in value.items():
                if isinstance(item, (int, float, str, bool)) or item is None:
                    fields[f"{name}.{inner}"] = item
        elif isinstance(value, (list, tuple, set)):
            fields[name] = ",".join(str(v) for v in value) if value else ""
        else:
            fields[name] = value
    return {(f"n_{k}" if k in _STANDARD_ATTRS else k): v for k, v in fields.items()}


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
            data["traceback"] = redact_traceback(self.formatException(record.exc_info))
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
            line += " traceback=" + json.dumps(redact_traceback(self.formatException(record.exc_info)),
                                               ensure_ascii=False)
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
    handler.setLevel(level)
    if redact_nhs_numbers:
        handler.addFilter(RedactFilter())
    root.addHandler(handler)
    root.setLevel(level)
    adopt_library_loggers()
    logging.captureWarnings(True)
    return handler


DEBUG_LOG_BYTES = 5_000_000


def attach_debug_log(path: Path) -> logging.Handler | None:
    """Also log everything at DEBUG, tracebacks included (redacted), to ``path`` (owner-only, rotated).

    Args:
        path: the debug log file; its folder is created.

    Returns:
        The handler, or None when the file cannot be opened (the run goes on without it).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _DEBUG_FLAG, False)]:
        root.removeHandler(old)
        old.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=DEBUG_LOG_BYTES, backupCount=3,
                                                       encoding="utf-8")
        os.chmod(path, 0o600)
    except OSError:
        return None
    setattr(handler, _DEBUG_FLAG, True)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return handler


def set_console_level(level: int) -> None:
    """Change the level of the console handler :func:`configure_logging` installed (the debug log keeps DEBUG).

    Args:
        level: e.g. ``logging.WARNING`` while a progress display owns the terminal.
    """
    for handler in logging.getLogger().handlers:
        if getattr(handler, _HANDLER_FLAG, False):
            handler.setLevel(level)


def adopt_library_loggers() -> None:
    """Route the chatty libraries' records through the host's handlers, at their true level.

    recordlinkage attaches its own ``StreamHandler(sys.stderr)`` to its logger at import; under Airflow
    everything on a task's stderr is logged at *error* level, so its INFO progress lines read as errors.
    The library's own handlers are removed (its records propagate to the root handlers the CLI or Airflow
    installed, with their level and the redaction filter) and the libraries in :data:`QUIET_LOGGERS` log
    warnings and above, as in the CLI.
    """
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, logging.StreamHandler)
                        and not isinstance(h, logging.FileHandler)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = True


def install_redaction() -> None:
    """Add :class:`RedactFilter` to every root handler that lacks one (for handlers Airflow installed).

    Also :func:`adopt_library_loggers`: a task logs library lines at their true level.
    """
    adopt_library_loggers()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())
