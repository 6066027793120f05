"""The night's counts as StatsD metrics, sent the way Airflow sends its own.

Airflow exports its scheduler and task metrics over StatsD (``[metrics] statsd_on``, ``statsd_host``,
``statsd_port``, ``statsd_prefix``) with the ``statsd`` client; the night's own figures go the same way,
to the same server and under the same prefix, so engineers chart and alert on them beside Airflow's
(``airflow.safelink.night.findings`` next to ``airflow.dagrun.duration.success.safeguarding_nightly``)
instead of reading logs. Under Airflow the ``publish`` task uses Airflow's ``[metrics]`` settings;
``safelink run`` uses ``SAFELINK_STATSD_HOST`` / ``_PORT`` / ``_PREFIX`` when a host is set.

Every value is a count (gauges, one per night; stage durations as timers): no person data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

NIGHT = "safelink.night"


@dataclass(frozen=True)
class StatsdTarget:
    """Where metrics go.

    Args:
        host: the StatsD server.
        port: its UDP port.
        prefix: put before every metric name (Airflow's ``statsd_prefix`` under Airflow), or none.
    """

    host: str
    port: int = 8125
    prefix: str | None = None


def statsd_target_from_settings() -> StatsdTarget | None:
    """``SAFELINK_STATSD_HOST`` / ``_PORT`` / ``_PREFIX``; None when no host is set (nothing is sent)."""
    from ground.settings import load_settings

    settings = load_settings()
    if not settings.statsd_host:
        return None
    return StatsdTarget(settings.statsd_host, settings.statsd_port, settings.statsd_prefix or None)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def night_metrics(stages: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """The night's counts from each stage's counts (as ``run_summary.json`` holds them).

    Rows read and set aside per source and in total, records, persons, links, review pairs, findings (and
    those needing confirmation), messages still undelivered, missing and failed sources, whether the drop
    was complete. A stage that did not run contributes nothing.

    Args:
        stages: each stage's counts, by stage name (``combine``, ``link``, ``detect``, ``send`` ...).
    """
    out: dict[str, int] = {}
    combine = stages.get("combine") or {}
    conservation: Mapping[str, Mapping[str, Any]] = combine.get("conservation") or {}
    if combine:
        for source, row in sorted(conservation.items()):
            out[f"source.{source}.rows_read"] = _int(row.get("rows_read"))
            out[f"source.{source}.set_aside"] = _int(row.get("quarantined"))
        out["rows_read"] = sum(_int(row.get("rows_read")) for row in conservation.values())
        out["set_aside"] = _int(combine.get("quarantined"))
        out["duplicates"] = sum(_int(row.get("duplicates")) for row in conservation.values())
        out["sources_missing"] = len(combine.get("sources_missing") or [])
        out["sources_failed"] = len(combine.get("sources_failed") or [])
        out["complete_drop"] = int(bool(combine.get("complete_drop", True)))
    link = stages.get("link") or {}
    for key in ("records", "persons", "links", "review_pairs", "merges", "splits"):
        if key in link:
            out[key] = _int(link[key])
    detect = stages.get("detect") or {}
    for key in ("findings", "needs_confirmation"):
        if key in detect:
            out[key] = _int(detect[key])
    send = stages.get("send") or {}
    if send:
        out["undelivered"] = _int(send.get("still_queued"))
        out["messages_sent"] = _int(send.get("sent")) + _int(send.get("written"))
    return out


def emit_night_metrics(stages: Mapping[str, Mapping[str, Any]], durations_s: Mapping[str, float],
                       target: StatsdTarget) -> dict[str, int]:
    """Send the night's counts (gauges) and each stage's duration (timers) to a StatsD server.

    Sending is UDP and best effort: a server that cannot be resolved is logged, and the night goes on.

    Args:
        stages: each stage's counts, by stage name.
        durations_s: each stage's wall time in seconds.
        target: the StatsD server and prefix.

    Returns:
        The counts sent, by metric name (without the prefix and ``safelink.night.``).
    """
    counts = night_metrics(stages)
    return counts if _send(target, counts, durations_s) else {}


def emit_gauges(values: Mapping[str, int], target: StatsdTarget) -> bool:
    """Send a few of the night's gauges again after a later step changed them (``undelivered`` after a retry).

    Args:
        values: gauge values by metric name (as :func:`night_metrics` names them).
        target: the StatsD server and prefix.

    Returns:
        Whether they were sent.
    """
    return _send(target, values, {})


def _send(target: StatsdTarget, gauges: Mapping[str, int], durations_s: Mapping[str, float]) -> bool:
    from statsd import StatsClient

    try:
        client = StatsClient(target.host, target.port, prefix=target.prefix)
        with client.pipeline() as pipe:
            for name, value in gauges.items():
                pipe.gauge(f"{NIGHT}.{name}", value)
            for stage, seconds in durations_s.items():
                pipe.timing(f"{NIGHT}.duration.{stage}", round(float(seconds) * 1000.0, 1))
    except OSError as exc:
        log.warning("metrics not sent", extra={"statsd_host": target.host, "error": type(exc).__name__})
        return False
    log.info("metrics sent", extra={"statsd_host": target.host, "metrics": len(gauges) + len(durations_s)})
    return True
