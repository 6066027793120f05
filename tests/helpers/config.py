"""Configuration folders for tests: the shipped source registry plus the files a test writes."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers.sample import CONFIG_DIR


def config_folder(folder: Path, *shipped: str) -> Path:
    """A configuration folder holding the shipped ``sources.yaml`` (every stage reads the source registry)
    and the other shipped files named.

    Args:
        folder: where to make it (created when absent).
        shipped: more shipped configuration files to copy, e.g. ``"sharing.yaml"``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("sources.yaml", *shipped):
        shutil.copy(CONFIG_DIR / name, folder / name)
    return folder
