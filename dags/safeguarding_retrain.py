"""Retrain the linkage model (manual): a new versioned candidate file for review, never the active one.

Fits on the ``landing/people.parquet`` of the most recent nights in the output folder and writes
``<output>/models/linkage_model_<run time UTC>.json``. The nightly DAG never retrains after the first night:
it scores with the deployment's active model (``<output>/models/active.json``), which only a person replaces,
after review, with ``safelink activate-model`` (docs/operations.md, "Retraining the linkage model").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from safelink_dag_support import LONDON, config_dir, notify_failure, output_dir


@dag(
    dag_id="safeguarding_retrain",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=LONDON),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-engineering", "retries": 0, "on_failure_callback": notify_failure},
    params={
        "nights": Param(30, type="integer", minimum=1, description="How many of the latest nights to train on."),
    },
    tags={"safeguarding", "safelink", "linkage-model"},
    doc_md=__doc__,
)
def safeguarding_retrain() -> None:
    """Find the nights' people files, train, write a candidate model."""

    @task(task_id="find_people_files")
    def find_people_files() -> list[str]:
        """The people tables of the latest nights (``<output>/<YYYY-MM-DD>/landing/people.parquet``)."""
        nights = int(get_current_context()["params"]["nights"])
        found = sorted(output_dir().glob("????-??-??/landing/people.parquet"))
        if not found:
            raise FileNotFoundError(f"no nights with landing/people.parquet under {output_dir()}")
        return [str(p) for p in found[-nights:]]

    @task(task_id="train_model")
    def train_model(people_paths: list[str]) -> dict[str, Any]:
        """Train and write the candidate; refuse to touch the reviewed model."""
        from linkage import train_model as train

        run_after = pendulum.instance(get_current_context()["dag_run"].run_after).in_timezone("UTC")
        out_path = output_dir() / "models" / f"linkage_model_{run_after.format('YYYYMMDDTHHmmss')}Z.json"
        reviewed = (config_dir() / "linkage_model.json").resolve()
        if out_path.resolve() == reviewed:
            raise ValueError("the candidate model must not overwrite the reviewed model")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        train([Path(p) for p in people_paths], out_path, config_dir())
        return {"candidate_model": str(out_path), "nights": len(people_paths), "reviewed_model": str(reviewed)}

    train_model(find_people_files())


safeguarding_retrain()
