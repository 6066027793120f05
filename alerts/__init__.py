"""alerts package: the safeguarding rules (``alerts.rules``), and digests to named leads.

The entry points are imported lazily so that ``alerts.rules`` does not pull in the mail stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alerts.digests import DigestResult, retry_outbox, send_digests, send_failure_notice

__all__ = ["DigestResult", "retry_outbox", "send_digests", "send_failure_notice"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from alerts import digests

        return getattr(digests, name)
    raise AttributeError(f"module 'alerts' has no attribute {name!r}")
