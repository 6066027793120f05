"""The Airflow trigger the nightly DAG's drop sensor defers to (run by the triggerer, importable there).

``DropTrigger`` polls for the drop's ``_SUCCESS`` marker and ends with an event either way: found, or
not found by its deadline. Carrying its own deadline (rather than relying on the scheduler's deferral
timeout alone) makes ``airflow dags test``, which runs triggers inline and has no timeout, end too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class DropTrigger(BaseTrigger):
    """Fires once: ``{"found": True}`` when ``marker`` is a file, ``{"found": False}`` at ``deadline``.

    Args:
        marker: the drop's ``_SUCCESS`` path.
        deadline: ISO timestamp (UTC) after which it gives up.
        poke_interval: seconds between looks.
    """

    def __init__(self, marker: str, deadline: str, poke_interval: float = 300.0) -> None:
        super().__init__()
        self.marker = marker
        self.deadline = deadline
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and arguments (stored in the metadata database: a path and a time, no person data)."""
        return ("safelink.triggers.DropTrigger",
                {"marker": self.marker, "deadline": self.deadline, "poke_interval": self.poke_interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Look every ``poke_interval`` seconds until the marker exists or the deadline passes."""
        deadline = dt.datetime.fromisoformat(self.deadline)
        while True:
            if Path(self.marker).is_file():
                yield TriggerEvent({"found": True})
                return
            left = (deadline - dt.datetime.now(dt.UTC)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"found": False})
                return
            await asyncio.sleep(min(self.poke_interval, left))
