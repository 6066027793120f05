"""Python loops that build many small objects at once (clusters, ledger rows, digests)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block, then restore it as it was.

    A loop creating hundreds of thousands of containers sets off collections that each walk every live object
    (the night's frames converted to lists among them): on a 100k-household night that was more than half of
    clustering's time. The block's own garbage is freed by reference counting as usual; only reference cycles
    wait for the collector, which runs again after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
