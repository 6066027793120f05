"""Files holding person data are created readable by their owner only (or, if configured, a team group).

During a run the process umask is ``077`` (files ``0600``, folders ``0700``). With ``SAFELINK_FILE_GROUP``
set, it is ``027`` and the output folder belongs to that group with the set-group-id bit, so the
night's folders and files are readable (not writable) by the group's members and by no one else.
"""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ground.errors import OperatorError

PRIVATE_UMASK = 0o077
GROUP_UMASK = 0o027


def group_id(group: str) -> int:
    """The id of a group by name.

    Args:
        group: the group name.

    Raises:
        OperatorError: no such group.
    """
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise OperatorError(f"SAFELINK_FILE_GROUP={group!r} is not a group on this machine: create it, or unset "
                            "SAFELINK_FILE_GROUP for owner-only files") from None


def share_with_group(folder: Path, group: str) -> None:
    """Give ``folder`` to ``group`` with the set-group-id bit, so what is created inside inherits the group.

    Args:
        folder: the output folder (created if absent).
        group: the group name.
    """
    gid = group_id(group)
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, -1, gid)
    mode = stat.S_IMODE(folder.stat().st_mode)
    os.chmod(folder, (mode & ~0o027) | stat.S_ISGID | 0o050)


@contextmanager
def private_files(output: Path | None = None, group: str = "") -> Iterator[None]:
    """Create files owner-only (or owner plus ``group``, read-only) inside the block.

    Args:
        output: the output folder to share with ``group`` (ignored without a group).
        group: ``SAFELINK_FILE_GROUP``; empty means owner-only.
    """
    previous = os.umask(GROUP_UMASK if group else PRIVATE_UMASK)
    try:
        if group and output is not None:
            share_with_group(output, group)
        yield
    finally:
        os.umask(previous)
