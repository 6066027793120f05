"""The DAGs parse and have the intended shape (no Airflow services needed)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pendulum
import pytest

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
NIGHTLY = "safeguarding_nightly"
RETRAIN = "safeguarding_retrain"
DUE = "safeguarding_digests_due"
OUTSIDE_TASKS = ("wait_for_drop", "check_drop", "validate_source", "send_digests", "confirm_delivery")


@pytest.fixture(scope="module")
def dagbag() -> Any:
    # The DAG processor puts the DAGs folder on sys.path; do the same for the support module.
    sys.path.insert(0, str(DAGS))
    try:
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS))
    finally:
        sys.path.remove(str(DAGS))


def test_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {NIGHTLY, RETRAIN, DUE}


def test_nightly_task_graph(dagbag: Any) -> None:
    dag = dagbag.dags[NIGHTLY]
    expected = {
        "wait_for_drop": {"check_drop"},
        "check_drop": {"list_sources", "standardise", "publish"},
        "list_sources": {"validate_source"},
        "validate_source": {"standardise", "publish"},
        "standardise": {"block", "publish"},
        "block": {"score_shard", "publish"},
        "score_shard": {"cluster", "publish"},
        "cluster": {"detect", "publish"},
        "detect": {"send_digests", "build_report", "publish"},
        "send_digests": {"publish"},
        "build_report": {"publish"},  # the report does not wait on e-mail
        "publish": {"confirm_delivery"},
        "confirm_delivery": set(),
    }
    assert set(dag.task_ids) == set(expected)
    for task_id, downstream in expected.items():
        assert dag.get_task(task_id).downstream_task_ids == downstream, task_id


def test_nightly_maps_validation_over_configured_sources(dagbag: Any) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dagbag.dags[NIGHTLY]
    validate = dag.get_task("validate_source")
    assert isinstance(validate, MappedOperator)
    assert set(validate.op_kwargs_expand_input.value) == {"source"}  # .expand(source=list_sources())
    assert dag.get_task("list_sources").task_id in validate.upstream_task_ids
    assert not isinstance(dag.get_task("standardise"), MappedOperator)


def test_nightly_maps_scoring_over_the_shards_on_the_linkage_queue(dagbag: Any) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dagbag.dags[NIGHTLY]
    score = dag.get_task("score_shard")
    assert isinstance(score, MappedOperator)
    shards = score.op_kwargs_expand_input.value["shard"]  # .expand(shard=block())
    assert (shards.operator.task_id, shards.key) == ("block", "return_value")
    assert score.queue == "linkage"
    for task_id in ("block", "cluster", "detect"):
        assert not isinstance(dag.get_task(task_id), MappedOperator), task_id
        assert dag.get_task(task_id).queue != "linkage", task_id


def test_nightly_schedule_and_run_policy(dagbag: Any) -> None:
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags[NIGHTLY]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 2 * * *"
    assert dag.timetable.timezone.name == "Europe/London"
    assert dag.timezone.name == "Europe/London"
    assert dag.start_date == pendulum.datetime(2026, 1, 1, tz="Europe/London")  # stored in UTC
    assert dag.catchup is False
    # a run waiting for its drop does not hold back another night's run (#15 row 17)
    assert dag.max_active_runs >= 2
    assert "extract_date" not in dag.params  # the night is the logical date's: one run per night, clear by date
    assert {"safeguarding", "nightly"} <= set(dag.tags)


def test_nightly_runs_at_two_london_time_for_the_previous_day(dagbag: Any) -> None:
    """Winter and summer: the 02:00 London run of D+1 has logical date D 02:00 (so processes D)."""
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import DataInterval, TimeRestriction

    dag = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags[NIGHTLY]))  # as the scheduler sees it
    london = pendulum.timezone("Europe/London")
    for day in (dt.date(2026, 11, 25), dt.date(2026, 7, 1)):
        start = pendulum.datetime(day.year, day.month, day.day, 2, tz=london)
        nxt = dag.timetable.next_dagrun_info(
            last_automated_data_interval=DataInterval(start.subtract(days=1), start),
            restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
        )
        assert nxt is not None
        assert nxt.logical_date.in_timezone(london) == start
        assert nxt.run_after.in_timezone(london) == start.add(days=1)


def test_extract_date_rules(dagbag: Any) -> None:
    import safelink_dag_support as support  # on sys.path through the dagbag fixture

    utc = pendulum.timezone("UTC")
    # airflow dags test safeguarding_nightly 2026-11-25 → logical date 2026-11-25T00:00Z
    assert support.extract_date({"logical_date": pendulum.datetime(2026, 11, 25, tz=utc)}) == dt.date(2026, 11, 25)
    assert support.extract_date({"logical_date": pendulum.datetime(2026, 6, 25, tz=utc)}) == dt.date(2026, 6, 25)
    # scheduled run at 2026-11-26 02:00 London: logical date = data interval start
    scheduled = pendulum.datetime(2026, 11, 25, 2, tz="Europe/London")
    assert support.extract_date({"logical_date": scheduled}) == dt.date(2026, 11, 25)
    # summer: a run triggered at 02:00 London (01:00 UTC) is that London day's night
    assert support.extract_date({"logical_date": pendulum.datetime(2026, 7, 1, 2, tz="Europe/London")}) == dt.date(
        2026, 7, 1)
    # the checking DAG (safeguarding_digests_due) may name its night by parameter; the nightly DAG may not
    with_param = {"logical_date": scheduled, "params": {"extract_date": "2026-11-20"}}
    assert support.extract_date(with_param, date_param=True) == dt.date(2026, 11, 20)
    assert support.extract_date(with_param) == dt.date(2026, 11, 25)
    # no logical date names no night: refused, with the command that names one
    with pytest.raises(support.NoLogicalDate, match=r"--logical-date YYYY-MM-DDT02:00"):
        support.extract_date({"logical_date": None})


def test_a_run_without_logical_date_fails_fast(dagbag: Any) -> None:
    import safelink_dag_support as support
    from airflow.sdk.exceptions import AirflowFailException

    def no_date() -> dict[str, Any]:
        raise support.NoLogicalDate()

    with pytest.raises(AirflowFailException, match="this run has no logical date"):
        support.timed("wait", no_date)


def test_state_writing_stages_hold_the_output_run_lock(dagbag: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of two nights may be active together: their state-writing stages take the CLI's run lock."""
    import safelink_dag_support as support

    from ground.run_lock import LOCK_FILE, run_lock
    from safelink.pipeline import Night

    night = Night(landing=tmp_path / "landing", output=tmp_path / "out", extract_date=dt.date(2026, 11, 25))
    monkeypatch.setattr(support, "night", lambda allow_incomplete=False: night)
    monkeypatch.setenv("SAFELINK_LOCK_WAIT_S", "0.2")
    seen: list[bool] = []

    def stage() -> dict[str, Any]:
        seen.append((tmp_path / "out" / LOCK_FILE).exists())
        return {"n": 1}

    assert support.timed("link", stage, locked=True)["counts"] == {"n": 1}
    assert seen == [True]
    from airflow.sdk.exceptions import AirflowFailException

    with run_lock(night.output, night.state, 1), pytest.raises(AirflowFailException,
                                                               match="another safelink run is using"):
        support.timed("link", stage, locked=True)  # another run (a CLI run, another night's task) holds it
    assert seen == [True]


def test_outside_tasks_retry_with_exponential_backoff(dagbag: Any) -> None:
    dag = dagbag.dags[NIGHTLY]
    for task_id in OUTSIDE_TASKS:
        t = dag.get_task(task_id)
        assert t.retries >= 1, task_id
        assert t.retry_exponential_backoff and t.retry_exponential_backoff > 1, task_id
        assert t.max_retry_delay is not None, task_id
    for task_id in ("standardise", "block", "score_shard", "cluster", "detect", "build_report", "publish"):
        assert dag.get_task(task_id).retries == 0, task_id


def test_every_task_has_a_timeout(dagbag: Any) -> None:
    for task in dagbag.dags[NIGHTLY].tasks:
        assert task.execution_timeout is not None and task.execution_timeout <= dt.timedelta(hours=6), task.task_id


def test_configuration_errors_fail_fast_without_retries(dagbag: Any) -> None:
    import safelink_dag_support as support
    from airflow.sdk.exceptions import AirflowFailException

    from ground.config import ConfigError
    from safelink.pipeline import UndeliveredMessages

    def broken() -> dict[str, Any]:
        raise ConfigError("config/leads.yaml: invalid configuration\n  at leads: field required")

    with pytest.raises(AirflowFailException, match=r"^config/leads.yaml: invalid configuration$"):
        support.timed("send", broken)

    def undelivered() -> dict[str, Any]:
        raise UndeliveredMessages(3, "connection refused")

    with pytest.raises(UndeliveredMessages):  # retried: the mail server may come back
        support.timed("deliver", undelivered)


def test_wait_is_a_deferrable_sensor_that_soft_fails(dagbag: Any) -> None:
    from airflow.sdk import BaseSensorOperator, TriggerRule

    dag = dagbag.dags[NIGHTLY]
    sensor = dag.get_task("wait_for_drop")
    assert isinstance(sensor, BaseSensorOperator)
    assert type(sensor).__name__ == "DropSensor"
    assert sensor.soft_fail is True
    assert sensor.timeout > 0
    # after a timed-out (skipped) wait, the run goes on with the sources present
    assert dag.get_task("check_drop").trigger_rule == TriggerRule.NONE_FAILED


def test_drop_sensor_defers_to_the_triggerer_until_the_marker_exists(dagbag: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred

    from safelink.triggers import DropTrigger

    sensor = dagbag.dags[NIGHTLY].get_task("wait_for_drop")
    monkeypatch.setenv("SAFELINK_LANDING", str(tmp_path))
    context: Any = {"logical_date": pendulum.datetime(2026, 11, 25, 2, tz="Europe/London")}
    marker = tmp_path / "2026-11-25" / "_SUCCESS"
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, DropTrigger) and trigger.marker == str(marker)
    assert trigger.poke_interval == sensor.poke_interval
    deadline = dt.datetime.fromisoformat(trigger.deadline)
    assert before + dt.timedelta(seconds=sensor.timeout) <= deadline <= dt.datetime.now(dt.UTC) + dt.timedelta(
        seconds=sensor.timeout)
    assert deferred.value.timeout is not None and deferred.value.timeout.total_seconds() > sensor.timeout
    with pytest.raises(AirflowSensorTimeout):  # soft_fail turns it into a skip when resumed
        sensor.execute_complete(context, {"found": False})
    sensor.execute_complete(context, {"found": True})
    marker.parent.mkdir()
    marker.touch()
    assert sensor.execute(context) is None  # there already: no deferral


def test_drop_trigger_fires_on_the_marker_or_at_its_deadline(tmp_path: Path) -> None:
    import asyncio

    from safelink.triggers import DropTrigger

    async def first_event(trigger: DropTrigger) -> Any:
        return await anext(trigger.run())

    marker = tmp_path / "_SUCCESS"
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.3)).isoformat()
    started = dt.datetime.now(dt.UTC)
    assert asyncio.run(first_event(DropTrigger(str(marker), soon, 0.1))).payload == {"found": False}
    assert dt.datetime.now(dt.UTC) - started >= dt.timedelta(seconds=0.3)
    marker.touch()
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert asyncio.run(first_event(DropTrigger(str(marker), later, 0.1))).payload == {"found": True}
    classpath, kwargs = DropTrigger(str(marker), later, 2).serialize()
    assert classpath == "safelink.triggers.DropTrigger" and DropTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_failure_callback_on_every_task(dagbag: Any) -> None:
    for dag_id in (NIGHTLY, RETRAIN, DUE):
        dag = dagbag.dags[dag_id]
        for t in dag.tasks:
            callbacks = t.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(getattr(c, "__name__", "") == "notify_failure" for c in callbacks), (dag_id, t.task_id)


def test_failure_notice_carries_no_person_data(dagbag: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import safelink_dag_support as support

    sent: list[tuple[Any, ...]] = []
    fake = types.ModuleType("alerts")
    fake.send_failure_notice = lambda *args: sent.append(args)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "alerts", fake)
    monkeypatch.setenv("SAFELINK_CONFIG", "/tmp/cfg")

    class TI:
        dag_id, task_id, map_index = NIGHTLY, "validate_source", 2
        log_url = "http://airflow:8080/dags/safeguarding_nightly/runs/r/tasks/validate_source/mapped/2"

    support.notify_failure({
        "ti": TI(), "logical_date": pendulum.datetime(2026, 11, 25, tz="UTC"),
        "exception": ValueError("bad row for 943 476 5919\nsecond line with more detail"),
    })
    assert sent == [(Path("/tmp/cfg"), NIGHTLY, "validate_source[2]", "2026-11-25",
                     "ValueError: bad row for [nhs-number]", TI.log_url)]


def test_failure_callback_survives_missing_alerts(dagbag: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import safelink_dag_support as support

    monkeypatch.setitem(sys.modules, "alerts", None)  # import fails
    support.notify_failure({"ti": None, "exception": RuntimeError("x")})


def test_retrain_is_manual_and_separate(dagbag: Any) -> None:
    dag = dagbag.dags[RETRAIN]
    from airflow.sdk.definitions.timetables.simple import NullTimetable

    assert isinstance(dag.timetable, NullTimetable)  # schedule=None: manual only
    assert set(dag.task_ids) == {"find_people_files", "train_model"}
    assert dag.catchup is False and dag.max_active_runs == 1
    nightly_source = (DAGS / "safeguarding_nightly.py").read_text(encoding="utf-8")
    assert "train_model" not in nightly_source  # the nightly job never retrains


def test_publish_emits_the_findings_and_report_assets(dagbag: Any) -> None:
    import safelink_dag_support as support
    from airflow.sdk import Asset

    dag = dagbag.dags[NIGHTLY]
    assert dag.get_task("publish").outlets == [support.FINDINGS, support.REPORT]
    assert Asset(name="safeguarding_findings", uri="safelink://safeguarding_nightly/findings") == support.FINDINGS
    assert Asset(name="safeguarding_report", uri="safelink://safeguarding_nightly/report") == support.REPORT
    assert [t.task_id for t in dag.tasks if t.outlets] == ["publish"]  # events only for a completed night


def test_digests_due_checks_at_seven_london_time_for_the_previous_days_night(dagbag: Any) -> None:
    """The 07:00 run of D+1 checks the night of D, winter and summer; no retry, a timeout, the failure mail."""
    import safelink_dag_support as support
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import DataInterval, TimeRestriction

    dag = dagbag.dags[DUE]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 7 * * *" and dag.timetable.timezone.name == "Europe/London"
    assert dag.task_ids == ["check_digests_sent"] and dag.catchup is False
    check = dag.get_task("check_digests_sent")
    assert check.retries == 0 and check.execution_timeout == dt.timedelta(minutes=10)
    scheduler_view = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    london = pendulum.timezone("Europe/London")
    for day in (dt.date(2026, 11, 25), dt.date(2026, 7, 1)):
        start = pendulum.datetime(day.year, day.month, day.day, 7, tz=london)
        nxt = scheduler_view.timetable.next_dagrun_info(
            last_automated_data_interval=DataInterval(start.subtract(days=1), start),
            restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True))
        assert nxt is not None
        assert nxt.run_after.in_timezone(london) == start.add(days=1)  # runs at 07:00 the next morning
        assert support.extract_date({"logical_date": nxt.logical_date}) == day  # and checks that night
