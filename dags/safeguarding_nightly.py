"""Nightly safeguarding linkage: wait for the drop, ingest each source, link, detect, send, report, publish.

Linking is three steps (docs/scaling.md): ``block`` writes the night's scoring shards, ``score_shard`` is mapped
over them on the ``linkage`` queue, ``cluster`` reads them all.

Each task calls one ``safelink.pipeline`` stage (the same functions ``safelink run`` calls); XCom
carries counts, paths and durations only. The run at 02:00 Europe/London on day D+1 processes the
drop of day D; a run triggered with ``--logical-date 2026-11-25T02:00`` (London time), or
``airflow dags test safeguarding_nightly 2026-11-25``, processes the 2026-11-25 drop: the night is the
London day of the logical date, one run per night (see docs/operations.md and docs/deployment.md).
"""

from __future__ import annotations

from typing import Any, cast

import pendulum
from airflow.sdk import CronDataIntervalTimetable, TriggerRule, dag, task
from airflow.sdk.definitions.xcom_arg import PlainXComArg
from safelink_dag_support import (
    FINDINGS,
    LINKAGE_QUEUE,
    LONDON,
    MAX_ACTIVE_RUNS,
    OUTSIDE_RETRY_ARGS,
    REPORT,
    STAGE_KEY,
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

    @task(task_id="block")
    def block() -> list[int]:
        """Standardise and block tonight's records, choose the night's model, write the scoring shards
        (``sharding.pairs_per_shard`` in linkage.yaml sets how many). Returns their indices, to map over; the
        stage's counts go to the XCom key ``stage``."""
        from airflow.sdk import get_current_context

        from safelink.pipeline import stage_block

        result = timed("link_block", lambda: stage_block(night()), locked=True)  # may fit and activate the model
        get_current_context()["ti"].xcom_push(key=STAGE_KEY, value=result)
        return [int(k) for k in result["counts"]["shards"]]

    @task(task_id="score_shard", queue=LINKAGE_QUEUE, map_index_template="{{ shard_index }}")
    def score_shard(shard: int) -> dict[str, Any]:
        """Compare and score one shard's candidate pairs with the night's fixed model (the ``linkage`` queue)."""
        from airflow.sdk import get_current_context

        from safelink.pipeline import stage_score_shard

        get_current_context()["shard_index"] = shard  # type: ignore[typeddict-unknown-key]
        return timed("link_score", lambda: stage_score_shard(night(), shard))

    @task(task_id="cluster")
    def cluster() -> dict[str, Any]:
        """Guards, clusters, stable person IDs and mentions over every scored shard (the ``link`` stage's counts)."""
        from safelink.pipeline import stage_cluster

        return timed("link", lambda: stage_cluster(night()), locked=True)

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

        result = timed("deliver", lambda: stage_deliver_queued(night(), metrics=metrics_target()), locked=True)
        raise_if_undelivered(result["counts"])
        return result

    @task(task_id="build_report")
    def build_report() -> dict[str, Any]:
        """The night's linkage report."""
        from safelink.pipeline import stage_report

        return timed("report", lambda: stage_report(night()), locked=True)

    @task(task_id="publish", outlets=[FINDINGS, REPORT])
    def publish(drop: dict[str, Any], ingested: list[dict[str, Any]], combined: dict[str, Any],
                blocked: dict[str, Any], scored: list[dict[str, Any]], linked: dict[str, Any],
                detected: dict[str, Any], sent: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any]:
        """Write ``run_summary.json`` from every task's counts and durations (XCom), in run order (the scoring
        shards are one stage, ``link_score``, its duration their summed task time); mark the night complete; send
        its counts as StatsD metrics; emit the findings and report asset events."""
        from safelink.pipeline import stage_publish

        shards = list(scored)
        score = {"stage": "link_score", "duration_s": round(sum(r["duration_s"] for r in shards), 3),
                 "counts": {"shards": len(shards), "pairs": sum(int(r["counts"]["pairs"]) for r in shards)}}
        flat = [drop, *ingested, combined, blocked, score, linked, detected, sent, reported]
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
    blocked = block()
    scored = score_shard.expand(shard=blocked)
    linked, detected, sent, reported = cluster(), detect(), send_digests(), build_report()

    waited >> drop >> sources
    ingested >> combined >> blocked
    scored >> linked >> detected >> [sent, reported]  # the report never waits on e-mail
    block_stage = cast(PlainXComArg, blocked)[STAGE_KEY]
    published = publish(drop=drop, ingested=ingested, combined=combined, blocked=block_stage, scored=scored,
                        linked=linked, detected=detected, sent=sent, reported=reported)
    published >> confirm_delivery()


safeguarding_nightly()
