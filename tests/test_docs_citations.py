"""Every test the documentation cites as evidence exists (the hazard log, security and operations pages)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
# `tests/x.py`, `tests/x.py::test_name`, and `::test_name` (a further test in the file cited last)
CITATION = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`")


def citations(text: str) -> list[tuple[str, str | None]]:
    """(test file, test name or None) for every citation, in order."""
    out: list[tuple[str, str | None]] = []
    last: str | None = None
    for match in CITATION.finditer(text):
        path, name, more = match.groups()
        if path:
            last = path
            out.append((path, name))
        elif last is not None:
            out.append((last, more))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_cited_test_exists(doc: Path) -> None:
    missing = []
    for path, name in citations(doc.read_text(encoding="utf-8")):
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name and not re.search(rf"^(?:async )?def {name}\(", source.read_text(encoding="utf-8"), re.M):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_the_hazard_log_cites_tests() -> None:
    cited = citations((ROOT / "docs" / "clinical-safety.md").read_text(encoding="utf-8"))
    assert len({name for _, name in cited if name}) >= 20
