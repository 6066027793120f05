"""Reading messages as a recipient would: the parts of an ``.eml`` file and the visible text of HTML."""

from __future__ import annotations

import email
import email.policy
import html as html_lib
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip = tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The words a reader sees in an HTML part, whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join(html_lib.unescape(" ".join(parser.parts)).split())


def read_eml(path: Path) -> tuple[EmailMessage, str, str]:
    """A message file: the message, its text part and its HTML part ("" when absent), with LF line ends."""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    text = str(text_part.get_content()).replace("\r\n", "\n") if text_part is not None else ""
    html = str(html_part.get_content()).replace("\r\n", "\n") if html_part is not None else ""
    return msg, text, html
