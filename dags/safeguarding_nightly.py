"""Nightly safeguarding linkage: wait for the drop, ingest each source, link, detect, send, report, publish.

Each task calls one ``safelink.pipeline`` stage (the same functions ``safelink run`` calls); XCom
carries counts, paths and durations only. The run at 02:00 Europe/London on day D+1 processes the
drop of day D; a run triggered with ``--logical-date 2026-11-25T02:00`` (London time), or
``airflow dags test safeguarding_nightly 2026-11-25``, processes the 2026-11-25 drop: the night is the
London day of the logical date, one run per night (see docs/operations.md and docs/deployment.md).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, TriggerRule, dag, task
from safelink_dag_support import (
    FINDINGS,
    LONDON,
    MAX_ACTIVE_RUNS,
    OUTSIDE_RETRY_ARGS,
    REPORT,
    TASK_TIMEOUT,
    WAIT_POKE_S,
    WAIT_TIMEOUT_S,
    DropSensor,
    announce_night,
    metrics_target,
    night,
    notify_failure,
    timed,
)


@dag(
    dag_id="safeguarding_nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone=LONDON),
    start_date=pendulum.datetime(2026, 1, 1, tz=LONDON),
    catchup=False,
    # A run waiting for its drop must not hold back a run for another night (a manual rerun, a backfill):
    # runs of different nights may be active together; the stages that write the state database take
    # the output's run lock, and Airflow's unique logical date keeps it to one run per night.
    max_active_runs=MAX_ACTIVE_RUNS,
    max_active_tasks=8,
    dagrun_timeout=pendulum.duration(hours=20),
    default_args={"owner": "data-engineering", "retries": 0, "on_failure_callback": notify_failure,
                  "execution_timeout": TASK_TIMEOUT},
    tags={"safeguarding", "safelink", "nightly"},
    doc_md=__doc__,
)
def safeguarding_nightly() -> None:
    """One night's job for one extract date."""

    @task(task_id="check_drop", trigger_rule=TriggerRule.NONE_FAILED, **OUTSIDE_RETRY_ARGS)
    def check_drop() -> dict[str, Any]:
        """After the wait (or its timeout): check every configuration, fail without a drop folder, else note
        whether the drop is complete."""
        import logging

        from safelink.pipeline import stage_wait, validate_configuration

        n = night(allow_incomplete=True)
        timed("configuration", lambda: validate_configuration(n))  # a typo stops the night before it opens
        result = timed("wait", lambda: stage_wait(n), locked=True)
        if not result["counts"]["complete_drop"]:
            logging.getLogger(__name__).warning(
                "no _SUCCESS marker after waiting %ss: running on the sources present", WAIT_TIMEOUT_S)
        return result

    @task(task_id="list_sources")
    def list_sources() -> list[str]:
        """The configured sources (config/sources.yaml), one mapped validation task each."""
        return list(night().sources().sources)

    @task(task_id="validate_source", map_index_template="{{ source_key }}", **OUTSIDE_RETRY_ARGS)
    def validate_source(source: str) -> dict[str, Any]:
        """Read one source's files and pass them through its data-quality gate."""
        from airflow.sdk import get_current_context

        from safelink.pipeline import stage_ingest_source

        get_current_context()["source_key"] = source  # type: ignore[typeddict-unknown-key]
        return timed(f"ingest_{source}", lambda: stage_ingest_source(night(), source))

    @task(task_id="standardise")
    def standardise(drop: dict[str, Any]) -> dict[str, Any]:
        """Combine tonight's sources into the canonical tables."""
        from safelink.pipeline import stage_combine

        return timed("combine", lambda: stage_combine(night(), bool(drop["counts"]["complete_drop"])))

    @task(task_id="link")
    def link() -> dict[str, Any]:
        """Link people records into persons (stable person IDs) and resolve mentions."""
        from safelink.pipeline import stage_link

        return timed("link", lambda: stage_link(night()), locked=True)

    @task(task_id="detect")
    def detect() -> dict[str, Any]:
        """Apply the five safeguarding rules."""
        from safelink.pipeline import stage_detect

        return timed("detect", lambda: stage_detect(night()), locked=True)

    @task(task_id="send_digests", **OUTSIDE_RETRY_ARGS)
    def send_digests() -> dict[str, Any]:
        """One digest per named lead; the alerts ledger makes a rerun send nothing twice."""
        from safelink.pipeline import stage_send

        return timed("send", lambda: stage_send(night()), locked=True)

    @task(task_id="confirm_delivery", **OUTSIDE_RETRY_ARGS)
    def confirm_delivery() -> dict[str, Any]:
        """Send what is still queued; fail (after the retries, so the failure mail fires) if any is left."""
        from safelink.pipeline import raise_if_undelivered, stage_deliver_queued

        result = timed("deliver", lambda: stage_deliver_queued(night()), locked=True)
        raise_if_undelivered(result["counts"])
        return result

    @task(task_id="build_report")
    def build_report() -> dict[str, Any]:
        """The night's linkage report."""
        from safelink.pipeline import stage_report

        return timed("report", lambda: stage_report(night()), locked=True)

    @task(task_id="publish", outlets=[FINDINGS, REPORT])
    def publish(drop: dict[str, Any], ingested: list[dict[str, Any]], combined: dict[str, Any],
                linked: dict[str, Any], detected: dict[str, Any], sent: dict[str, Any],
                reported: dict[str, Any]) -> dict[str, Any]:
        """Write ``run_summary.json`` from every task's counts and durations (XCom), in run order; mark the night
        complete; send its counts as StatsD metrics; emit the findings and report asset events."""
        from safelink.pipeline import stage_publish

        flat = [drop, *ingested, combined, linked, detected, sent, reported]
        stages = {r["stage"]: r["counts"] for r in flat}
        durations = {r["stage"]: r["duration_s"] for r in flat}
        n = night()
        result = timed("publish", lambda: stage_publish(n, stages, durations, metrics=metrics_target()),
                       locked=True)["counts"]
        announce_night(n.extract_date, n.night_dir)
        return result

    waited = DropSensor(task_id="wait_for_drop", poke_interval=WAIT_POKE_S, timeout=WAIT_TIMEOUT_S,
                        soft_fail=True, **OUTSIDE_RETRY_ARGS)
    drop = check_drop()
    sources = list_sources()
    ingested = validate_source.expand(source=sources)
    combined = standardise(drop)
    linked, detected, sent, reported = link(), detect(), send_digests(), build_report()

    waited >> drop >> sources
    ingested >> combined >> linked >> detected >> [sent, reported]  # the report never waits on e-mail
    published = publish(drop=drop, ingested=ingested, combined=combined, linked=linked, detected=detected,
                        sent=sent, reported=reported)
    published >> confirm_delivery()


safeguarding_nightly()
