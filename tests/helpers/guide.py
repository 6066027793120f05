"""The command blocks of docs/deployment.md that the deployment tests run exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
_BLOCK = re.compile(r"<!-- deployment-test: (?P<name>[\w-]+) -->\s*```\w*\n(?P<body>.*?)```", re.DOTALL)


def guide_block(name: str) -> list[str]:
    """The command lines of one marked block (comments and blank lines left out).

    Args:
        name: the block's marker (``<!-- deployment-test: NAME -->`` before the fenced block).
    """
    blocks = {m["name"]: m["body"] for m in _BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))}
    if name not in blocks:
        raise KeyError(f"docs/deployment.md has no block marked deployment-test: {name}")
    lines = [line.strip() for line in blocks[name].splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def guide_settings(name: str) -> dict[str, str]:
    """``NAME=value`` lines of a marked block.

    Args:
        name: the block's marker.
    """
    return dict(line.split("=", 1) for line in guide_block(name))
