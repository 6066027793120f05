"""The nightly DAG on Airflow's CeleryExecutor without Docker (#18): the local Redis as broker, PostgreSQL as
result backend and metadata database, two ``airflow celery worker`` processes. The mapped tasks ran on both
workers (``validate_source`` over the sources, ``score_shard`` over the scoring shards on the ``linkage``
queue), and the outputs equal ``safelink run``'s on the same drop, byte for byte.

Person ids are random by design (never derived from data), so two fresh deployments never share them; the
comparison is made as ``--shards 4`` is compared with ``--shards 1``: ``safelink run`` processes the night
on the deployment's output and state database, then the DAG runs the same night there on the two workers
(re-linking from the drop with the same model and earlier ids) and must write the same bytes.

Run by ``make test-celery`` (``.ci/run``), not by ``make test``: it owns this worktree's Redis database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.airflow_deployment import AirflowDeployment, airflow_deployment, worker_command
from tests.helpers.guide import guide_block, guide_settings
from tests.helpers.sample import generated_drop

pytestmark = [pytest.mark.slow, pytest.mark.celery]

ROOT = Path(__file__).resolve().parent.parent
EXTRACT = dt.date(2026, 11, 25)
WORKERS = ("worker1", "worker2")
QUEUES = "default,linkage"  # score_shard goes to `linkage` (docs/scaling.md); docker-compose.celery.yml matches
OUTPUTS = ("person_links.csv", "findings.csv")
SHARDS = 4
RUN_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("celery-drop")
    landing = generated_drop(base, EXTRACT, 40, 7)
    shutil.rmtree(base / "county" / "truth")
    return landing


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, drop: Path) -> Iterator[AirflowDeployment]:
    pytest.importorskip("airflow.providers.celery")
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/2", socket_connect_timeout=3).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable on 127.0.0.1:6379 (the Celery broker): {exc}")
    base = tmp_path_factory.mktemp("celery")
    config = base / "config"
    shutil.copytree(ROOT / "config", config)
    linkage = config / "linkage.yaml"
    # a tiny county still scores in SHARDS shards, so that both workers take some
    text, found = re.subn(r"(?m)^(\s+)pairs_per_shard: \d+$", r"\1pairs_per_shard: 1", linkage.read_text(
        encoding="utf-8"))
    text, also = re.subn(r"(?m)^(\s+)max_shards: \d+$", rf"\g<1>max_shards: {SHARDS}", text)
    assert (found, also) == (1, 1), "config/linkage.yaml's sharding settings moved"
    linkage.write_text(text, encoding="utf-8")
    settings = {
        "SAFELINK_LANDING": str(drop),
        "SAFELINK_OUTPUT": str(base / "output"),
        "SAFELINK_CONFIG": str(config),
        "SAFELINK_WAIT_POKE_S": "2",
        "SAFELINK_WAIT_TIMEOUT_S": "1800",
        "SAFELINK_RETRIES": "0",
    }
    with airflow_deployment(base / "deployment", settings, executor="CeleryExecutor", workers=WORKERS,
                            queues=QUEUES) as running:
        yield running


def _cli_run(d: AirflowDeployment) -> dict[str, bytes]:
    """``safelink run`` on the deployment's landing, output and state database; the night's files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SAFELINK_"))}
    env.update({k: v for k, v in d.env.items() if k.startswith("SAFELINK_")}, PYTHONPATH=str(ROOT))
    output = Path(d.env["SAFELINK_OUTPUT"])
    result = subprocess.run([sys.executable, "-m", "safelink.cli", "run", "--landing", d.env["SAFELINK_LANDING"],
                             "--date", EXTRACT.isoformat(), "--output", str(output), "--config",
                             d.env["SAFELINK_CONFIG"]], env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return {name: (output / EXTRACT.isoformat() / name).read_bytes() for name in OUTPUTS}


def test_the_guides_celery_settings_and_worker_command_are_what_runs(deployment: AirflowDeployment) -> None:
    documented = guide_settings("celery-environment")
    assert set(documented) <= set(deployment.env)
    assert deployment.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert deployment.env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert deployment.env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg://")
    assert guide_block("celery-worker") == [worker_command("worker1", QUEUES)]


def test_nightly_dag_on_two_celery_workers_equals_the_cli(deployment: AirflowDeployment) -> None:
    d = deployment
    cli = _cli_run(d)
    assert cli["person_links.csv"].count(b"\n") > 50 and cli["findings.csv"].count(b"\n") > 1
    for command in guide_block("first-run"):
        d.sh(command)
    (run,) = [r for r in d.runs() if r["run_type"] == "manual"]
    started = time.perf_counter()
    assert d.wait_for_run(run["run_id"], RUN_TIMEOUT_S) == "success", d.task_states(run["run_id"])
    run_s = time.perf_counter() - started

    rows = d.query("SELECT task_id, map_index, hostname, queue, state FROM task_instance "
                   "WHERE dag_id = 'safeguarding_nightly' AND run_id = %s", run["run_id"])
    ran = [r for r in rows if r[4] == "success"]
    assert {r[2] for r in ran} == set(WORKERS), rows  # only the two workers ran tasks, and both did
    mapped = {task for task, index, *_ in ran if index >= 0}
    assert "validate_source" in mapped
    assert mapped == {"validate_source", "score_shard"}
    for task in sorted(mapped):
        hosts = {host for task_id, index, host, _, _ in ran if task_id == task and index >= 0}
        assert hosts == set(WORKERS), (task, rows)
    shards = [(index, queue) for task_id, index, _, queue, _ in ran if task_id == "score_shard"]
    assert sorted(shards) == [(i, "linkage") for i in range(SHARDS)]  # the scoring shards on the linkage queue

    dag_night = Path(d.env["SAFELINK_OUTPUT"]) / EXTRACT.isoformat()
    for name in OUTPUTS:
        assert (dag_night / name).read_bytes() == cli[name], name
    logging.getLogger(__name__).info("celery run %.1fs", run_s)
