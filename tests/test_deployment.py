"""docs/deployment.md, checked by running it: the real api-server, dag-processor, scheduler and triggerer on
PostgreSQL (LocalExecutor, API server on a free port that is not 8080), a night triggered and rerun with the
guide's own commands.

Also #15 row 17: the scheduled run that unpausing creates waits for a drop that is not there, in the
triggerer, and does not hold back the manual run; the guide's ``airflow tasks clear -s/-e`` selects the
night's run and no other; the rerun keeps the night's figures; a successful night logs no error line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.airflow_deployment import COMPONENTS, AirflowDeployment, airflow_deployment
from tests.helpers.guide import guide_block, guide_settings
from tests.helpers.sample import generated_drop

pytestmark = pytest.mark.slow

EXTRACT = dt.date(2026, 11, 25)  # the date the guide's commands name
RUN_TIMEOUT_S = 300
OUTPUTS = ("person_links.csv", "findings.csv")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowDeployment]:
    pytest.importorskip("psycopg")
    base = tmp_path_factory.mktemp("deploy")
    landing = generated_drop(base, EXTRACT, 40, 5)
    shutil.rmtree(base / "county" / "truth")
    settings = {
        "SAFELINK_LANDING": str(landing),
        "SAFELINK_OUTPUT": str(base / "output"),
        "SAFELINK_CONFIG": str(Path(__file__).resolve().parent.parent / "config"),
        "SAFELINK_WAIT_POKE_S": "2",
        "SAFELINK_WAIT_TIMEOUT_S": "1800",  # the scheduled run's missing drop is still awaited at teardown
        "SAFELINK_RETRIES": "0",
    }
    started = time.perf_counter()
    with airflow_deployment(base / "deployment", settings) as running:
        logging.getLogger(__name__).info("deployment up in %.1fs", time.perf_counter() - started)
        yield running


def _manual_run(d: AirflowDeployment) -> dict[str, Any]:
    runs = [r for r in d.runs() if r["run_type"] == "manual"]
    assert len(runs) == 1, runs
    return runs[0]


def _scheduled_run(d: AirflowDeployment) -> dict[str, Any]:
    runs = [r for r in d.runs() if r["run_type"] == "scheduled"]
    assert len(runs) == 1, runs
    return runs[0]


def _task_log_levels(d: AirflowDeployment, run_id: str) -> dict[str, list[str]]:
    """Each level's events in a run's task logs (Airflow's JSON lines)."""
    levels: dict[str, list[str]] = {}
    folder = Path(d.env["AIRFLOW_HOME"]) / "logs" / "dag_id=safeguarding_nightly" / f"run_id={run_id}"
    for log in folder.rglob("*.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            levels.setdefault(record.get("level", "?"), []).append(str(record.get("event", ""))[:200])
    return levels


def test_the_guides_settings_and_components_are_what_runs(deployment: AirflowDeployment) -> None:
    documented = guide_settings("environment")
    assert set(documented) <= set(deployment.env), set(documented) - set(deployment.env)
    assert deployment.env["AIRFLOW__API__PORT"] != "8080"  # the guide's point: any port, when it is set
    assert deployment.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        f"http://127.0.0.1:{deployment.api_port}/execution/")
    assert guide_block("components") == [f"airflow {c}" for c in COMPONENTS]


def test_first_run_then_rerun_with_the_guides_commands(deployment: AirflowDeployment) -> None:
    d = deployment
    night_dir = Path(d.env["SAFELINK_OUTPUT"]) / EXTRACT.isoformat()
    for command in guide_block("first-run"):  # unpause (creates yesterday's scheduled run), then trigger
        d.sh(command)
    run = _manual_run(d)
    assert run["logical_date"].date() == EXTRACT

    started = time.perf_counter()
    assert d.wait_for_run(run["run_id"], RUN_TIMEOUT_S) == "success", d.task_states(run["run_id"])
    first_s = time.perf_counter() - started

    # the scheduled run waits for its missing drop in the triggerer and did not hold the manual run back
    scheduled = _scheduled_run(d)
    assert scheduled["logical_date"].date() < dt.datetime.now(dt.UTC).date()
    assert scheduled["state"] == "running"
    assert d.task_states(scheduled["run_id"])["wait_for_drop"] == ["deferred"]

    for name in (*OUTPUTS, "report.html", "run_summary.json", "_COMPLETE"):
        assert (night_dir / name).is_file(), name
    summary = json.loads((night_dir / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["extract_date"] == EXTRACT.isoformat()
    first_send = summary["stages"]["send"]
    assert first_send["digests_built"] > 0 and first_send["written"] > 0 and first_send["already_built"] == 0
    first = {n: (night_dir / n).read_bytes() for n in OUTPUTS}
    outbox = sorted(p.name for p in (night_dir / "outbox").iterdir())
    levels = _task_log_levels(d, run["run_id"])
    assert levels.get("error", []) == [], levels.get("error")  # library INFO lines are not errors
    assert "info" in levels

    # a second trigger of the same night is refused: one run per night
    again = d.sh("airflow dags trigger safeguarding_nightly --logical-date 2026-11-25T02:00 || echo REFUSED")
    assert "REFUSED" in again.stdout and len(d.runs()) == 2

    (rerun_command,) = guide_block("rerun")
    d.sh(rerun_command)
    states = {r["run_id"]: r["state"] for r in d.runs()}
    assert states[run["run_id"]] in ("queued", "running"), states  # the clear selected the night's run
    assert d.task_states(scheduled["run_id"])["wait_for_drop"] == ["deferred"]  # and no other night's
    started = time.perf_counter()
    assert d.wait_for_run(run["run_id"], RUN_TIMEOUT_S) == "success", d.task_states(run["run_id"])
    rerun_s = time.perf_counter() - started
    tries = d.query("SELECT max(try_number) FROM task_instance WHERE run_id = %s AND task_id = 'cluster'",
                    run["run_id"])
    assert tries == [(2,)]

    assert {n: (night_dir / n).read_bytes() for n in OUTPUTS} == first
    assert (night_dir / "_COMPLETE").is_file()
    assert sorted(p.name for p in (night_dir / "outbox").iterdir()) == outbox  # nothing sent twice
    rerun_send = json.loads((night_dir / "run_summary.json").read_text(encoding="utf-8"))["stages"]["send"]
    kept = ("findings", "routed", "new", "updated", "no_longer_found", "digests_built", "sent", "written")
    assert {k: rerun_send[k] for k in kept} == {k: first_send[k] for k in kept}
    assert rerun_send["already_built"] == 1 and rerun_send["written_this_run"] == 0
    logging.getLogger(__name__).info("first run %.1fs, rerun %.1fs", first_s, rerun_s)
