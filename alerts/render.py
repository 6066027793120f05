"""Jinja2 rendering of digests, summaries and failure notices, and MIME message building."""

from __future__ import annotations

import email.policy
import textwrap
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"


TEXT_WIDTH = 76


@lru_cache(maxsize=8192)  # a digest repeats the configured paragraphs (why it matters, next step) per finding
def fill(text: str, indent: str = "", hanging: str = "  ", width: int = TEXT_WIDTH) -> str:
    """Wrap a paragraph for a text-only mail client: ``indent`` first, ``indent + hanging`` after.

    Long words (addresses, URLs) are never broken.

    Args:
        text: the paragraph.
        indent: the first line's indent.
        hanging: the extra indent of the following lines.
        width: the line width.
    """
    words = str(text).split()
    if width <= 0:  # textwrap's own error
        return textwrap.fill(" ".join(words), width=width)
    flat = " ".join(words)
    if len(indent) + len(flat) <= width:  # most paragraphs: one line, no loop
        return indent + flat if flat else ""
    # The greedy fill textwrap does with these options (whole words, single spaces, trailing space dropped, a
    # word longer than the line on a line of its own), without its per-chunk overhead: tests compare the two.
    lines: list[str] = []
    line: list[str] = []
    length, prefix = 0, indent
    for word in words:
        if line and length + 1 + len(word) > width - len(prefix):
            lines.append(prefix + " ".join(line))
            line, length, prefix = [], 0, indent + hanging
        length += len(word) + (1 if line else 0)
        line.append(word)
    if line:
        lines.append(prefix + " ".join(line))
    return "\n".join(lines)


@cache
def _env(html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["fill"] = fill
    return env


def render(template: str, **context: Any) -> str:
    """Render a template; ``*.html.j2`` templates are autoescaped, ``*.txt.j2`` are not.

    Args:
        template: the template file name in ``alerts/templates``.
        **context: template variables.
    """
    return _env(template.endswith(".html.j2")).get_template(template).render(**context)


def build_message(sender: str, recipient: str, subject: str, text: str, html: str | None, kind: str,
                  message_id: str | None = None) -> tuple[str, str]:
    """Build an RFC 5322 message with a text/plain part and, when given, a text/html alternative.

    Args:
        sender: the From address.
        recipient: the single To address.
        subject: the subject line (generic: never person data).
        text: the plain-text body.
        html: the HTML body, or None for a plain message.
        kind: ``digest``, ``summary`` or ``failure`` (an ``X-Safelink-Kind`` header).
        message_id: the Message-ID (``<...@domain>``); default a fresh one.

    Returns:
        The message ID and the message text (CRLF line ends, ASCII-safe transfer encoding).
    """
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    message_id = message_id or make_msgid(idstring="safelink", domain=domain)
    msg = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=200))  # subjects unfolded
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    msg["X-Safelink-Kind"] = kind
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    return message_id, msg.as_string()
