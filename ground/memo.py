"""Incremental nights: what a result kept from an earlier night depends on besides its inputs.

A stage that reuses last night's result (``landing.memo``, ``checks.memo``) stamps it with a version: a hash of
the code that computed it, the versions of the libraries it ran on and the configuration files it read. A
different version tonight (a code change, an upgrade, an edited configuration) means the result is computed
afresh. Memos live in the deployment's output folder, ``<output>/night_memo/`` (:func:`memo_dir`), beside
``linkage_cache``; their files are written owner-only like every output (they hold person data).
"""

from __future__ import annotations

import hashlib
import importlib
from importlib import metadata
from pathlib import Path

MEMO_DIR = "night_memo"


def memo_dir(output: Path) -> Path:
    """``<output>/night_memo``: the deployment's results kept for the next night.

    Args:
        output: the deployment's output folder.
    """
    return Path(output) / MEMO_DIR


def code_version(packages: tuple[str, ...], libraries: tuple[str, ...], files: tuple[Path, ...] = ()) -> str:
    """A hash of every module of ``packages``, the versions of ``libraries`` and the bytes of ``files``.

    Args:
        packages: importable package names (each one's ``*.py`` files, in name order).
        libraries: distribution names whose installed versions count.
        files: configuration files (an absent file counts as empty).
    """
    h = hashlib.sha256()
    for name in packages:
        folder = Path(str(importlib.import_module(name).__file__)).parent
        for path in sorted(folder.glob("*.py")):
            h.update(path.name.encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    for lib in libraries:
        h.update(f"{lib}={metadata.version(lib)};".encode())
    for path in files:
        h.update(path.name.encode())
        h.update(hashlib.sha256(path.read_bytes() if path.is_file() else b"").digest())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes.

    Args:
        path: the file.
    """
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
