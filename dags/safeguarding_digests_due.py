"""Digests due by 07:00: at 07:00 Europe/London, check that the previous night's digests were all sent.

The run at 07:00 on day D+1 checks the night of extract date D (the same date the 02:00 nightly run of D+1
processed). It fails, and so mails data engineering through the failure callback, when that night's digests
were never built (the nightly run failed, hung or never started) or some of its messages are still queued.
A check at a fixed time rather than an Airflow Deadline Alert: see docs/operations.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task
from safelink_dag_support import DIGESTS_DUE, LONDON, night, notify_failure, timed

HOUR, MINUTE = (int(part) for part in DIGESTS_DUE.split(":"))


@dag(
    dag_id="safeguarding_digests_due",
    schedule=CronDataIntervalTimetable(f"{MINUTE} {HOUR} * * *", timezone=LONDON),
    start_date=pendulum.datetime(2026, 1, 1, tz=LONDON),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-engineering", "retries": 0, "on_failure_callback": notify_failure,
                  "execution_timeout": dt.timedelta(minutes=10)},
    params={
        "extract_date": Param(None, type=["null", "string"], format="date",
                              description="Extract date (YYYY-MM-DD) to check instead of the logical date's."),
    },
    tags={"safeguarding", "safelink", "monitoring"},
    doc_md=__doc__,
)
def safeguarding_digests_due() -> None:
    """Fail (and mail data engineering) when the night's digests were not all sent by the due time."""

    @task(task_id="check_digests_sent")
    def check_digests_sent() -> dict[str, Any]:
        """The night's digests were built and every message of the night delivered."""
        from safelink.pipeline import stage_check_delivered

        return timed("digests_due", lambda: stage_check_delivered(night(date_param=True), DIGESTS_DUE))

    check_digests_sent()


safeguarding_digests_due()
