"""Glue shared by the safelink DAGs: where the folders are, which night a run is, the failure mail.

Not a DAG file (listed in ``.airflowignore``); the DAG processor puts the DAGs folder on ``sys.path``,
so the DAG files import it as ``safelink_dag_support``. Nothing here holds pipeline logic: the stages
are library functions in ``safelink.pipeline``.

Extract date of a run (documented in docs/operations.md):

* the DAG runs on a data-interval timetable at 02:00 Europe/London, so the run that starts at
  02:00 on day D+1 has the logical date D 02:00 and processes **the previous day's drop, D**
  (a drop is the extract of a whole day, written after the day ends);
* a run for a chosen night is triggered with that logical date
  (``airflow dags trigger safeguarding_nightly --logical-date 2026-11-25T02:00``, London time), and
  ``airflow dags test safeguarding_nightly 2026-11-25`` processes the 2026-11-25 drop too;
* so the night is always the London day of the logical date: Airflow's unique key on
  (DAG, logical date) makes it one run per night, and ``airflow tasks clear -s/-e`` selects it by date.
  A run without a logical date is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import Asset, BaseSensorOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from safelink.metrics import StatsdTarget
    from safelink.pipeline import Night

log = logging.getLogger(__name__)

LONDON = pendulum.timezone("Europe/London")
ENV_LANDING = "SAFELINK_LANDING"
ENV_OUTPUT = "SAFELINK_OUTPUT"
ENV_CONFIG = "SAFELINK_CONFIG"
ENV_STATE_URL = "SAFELINK_STATE_URL"


def env_number(name: str, default: float) -> float:
    """A number from the environment (deployment tuning read when the DAG is parsed).

    Args:
        name: environment variable.
        default: value when unset or blank.
    """
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


# Waiting for the drop and retrying the steps that touch the outside world (landing folder, SMTP).
WAIT_POKE_S = env_number("SAFELINK_WAIT_POKE_S", 300)
WAIT_TIMEOUT_S = env_number("SAFELINK_WAIT_TIMEOUT_S", 4 * 3600)
# Runs of different nights that may be active at once (a waiting scheduled run, a manual one, a backfill).
MAX_ACTIVE_RUNS = int(env_number("SAFELINK_MAX_ACTIVE_RUNS", 3))
OUTSIDE_RETRIES = int(env_number("SAFELINK_RETRIES", 3))
# No task may hold the run for ever (a hung task used to hold it for the whole dagrun_timeout).
TASK_TIMEOUT = dt.timedelta(seconds=env_number("SAFELINK_TASK_TIMEOUT_S", 3 * 3600))
OUTSIDE_RETRY_ARGS: dict[str, Any] = {
    "retries": OUTSIDE_RETRIES,
    "retry_delay": dt.timedelta(seconds=env_number("SAFELINK_RETRY_DELAY_S", 120)),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=30),
}


#: The Celery queue the linkage scoring shards run on (``airflow celery worker --queues linkage`` on the machines
#: sized for them); executors without queues ignore it.
LINKAGE_QUEUE = os.environ.get("SAFELINK_LINKAGE_QUEUE", "").strip() or "linkage"
#: The XCom key of a task's stage counts when its return value is what the next task maps over.
STAGE_KEY = "stage"


# What a complete night publishes, for downstream DAGs to schedule on (``schedule=[FINDINGS]``): an event per
# completed night, its extra naming the extract date and the night's folder (no person data).
FINDINGS = Asset(name="safeguarding_findings", uri="safelink://safeguarding_nightly/findings")
REPORT = Asset(name="safeguarding_report", uri="safelink://safeguarding_nightly/report")

# Digests are due by 07:00 Europe/London the morning after the extract date: the safeguarding_digests_due DAG
# checks then (docs/operations.md says why it is a check and not an Airflow Deadline Alert).
DIGESTS_DUE = os.environ.get("SAFELINK_DIGESTS_DUE", "07:00").strip() or "07:00"


def metrics_target() -> StatsdTarget | None:
    """Where the night's counts go: ``SAFELINK_STATSD_HOST`` if set, else Airflow's own ``[metrics]`` StatsD.

    None when neither is configured (``[metrics] statsd_on`` false): no metrics are sent.
    """
    from airflow.sdk.configuration import conf

    from safelink.metrics import StatsdTarget, statsd_target_from_settings

    own = statsd_target_from_settings()
    if own is not None:
        return own
    if not conf.getboolean("metrics", "statsd_on", fallback=False):
        return None
    return StatsdTarget(host=conf.get("metrics", "statsd_host", fallback="localhost"),
                        port=conf.getint("metrics", "statsd_port", fallback=8125),
                        prefix=conf.get("metrics", "statsd_prefix", fallback="airflow") or None)


def announce_night(extract_date: dt.date, night_dir: Path) -> None:
    """Name the night in the asset events the running task emits (its ``outlets``).

    Args:
        extract_date: the night.
        night_dir: its folder.
    """
    from airflow.sdk import get_current_context

    events = get_current_context()["outlet_events"]
    for asset in (FINDINGS, REPORT):
        events[asset].extra = {"extract_date": extract_date.isoformat(), "night": str(night_dir)}


def setting(name: str, default: str | None = None) -> str | None:
    """A deployment setting: the environment variable, else the Airflow Variable of the same name.

    Args:
        name: e.g. ``SAFELINK_LANDING``.
        default: value when neither is set.
    """
    value = os.environ.get(name, "").strip()
    if value:
        return value
    try:
        from airflow.sdk import Variable

        found = Variable.get(name, default=None)
    except Exception:  # outside a task (no execution API): only the environment counts
        found = None
    return str(found).strip() if found not in (None, "") else default


def _required_path(name: str) -> Path:
    value = setting(name)
    if not value:
        raise RuntimeError(f"{name} is not set: set the environment variable or the Airflow Variable {name}")
    return Path(value)


def config_dir() -> Path:
    """The configuration folder: ``SAFELINK_CONFIG``, else the project's ``config/``."""
    from ground.settings import DEFAULT_CONFIG_DIR

    value = setting(ENV_CONFIG)
    return Path(value) if value else DEFAULT_CONFIG_DIR


def output_dir() -> Path:
    """The output folder (one deployment): ``SAFELINK_OUTPUT``."""
    return _required_path(ENV_OUTPUT)


class NoLogicalDate(RuntimeError):
    """A run without a logical date: it could not be selected by date, nor kept to one run per night."""

    def __init__(self) -> None:
        super().__init__(
            "this run has no logical date, so it names no night: trigger it with the night's logical date "
            "(airflow dags trigger safeguarding_nightly --logical-date YYYY-MM-DDT02:00, London time)")


def extract_date(context: Mapping[str, Any], date_param: bool = False) -> dt.date:
    """The extract date a run processes: the London day of its logical date (see the module docstring).

    Args:
        context: the task's Airflow context.
        date_param: honour an ``extract_date`` run parameter (the checking DAG ``safeguarding_digests_due``
            declares one; the nightly DAG does not: its runs are one per night, selected by logical date).

    Raises:
        NoLogicalDate: the run was triggered without a logical date (and, with ``date_param``, no date).
    """
    override = (context.get("params") or {}).get("extract_date") if date_param else None
    if override:
        return dt.date.fromisoformat(str(override))
    logical = context.get("logical_date")
    if logical is None:
        raise NoLogicalDate()
    return pendulum.instance(logical).in_timezone(LONDON).date()


def drop_marker(context: Mapping[str, Any]) -> Path:
    """``<landing>/<extract date>/_SUCCESS`` for the running task.

    Args:
        context: the task's Airflow context.
    """
    from landing.ingest import SUCCESS_MARKER, drop_dir

    return drop_dir(_required_path(ENV_LANDING), extract_date(context)) / SUCCESS_MARKER


def night(allow_incomplete: bool = False, date_param: bool = False) -> Night:
    """The :class:`safelink.pipeline.Night` of the running task.

    Args:
        allow_incomplete: run on the files present when ``_SUCCESS`` is absent.
        date_param: honour an ``extract_date`` run parameter (see :func:`extract_date`).
    """
    from airflow.sdk import get_current_context

    from ground.logs import install_redaction
    from ground.permissions import GROUP_UMASK, PRIVATE_UMASK
    from ground.settings import load_settings
    from safelink.pipeline import Night

    install_redaction()
    os.umask(GROUP_UMASK if load_settings().file_group else PRIVATE_UMASK)  # person data owner-only
    return Night(
        landing=_required_path(ENV_LANDING),
        output=output_dir(),
        extract_date=extract_date(get_current_context(), date_param),
        config_dir=config_dir(),
        state_url=setting(ENV_STATE_URL, "") or "",
        allow_incomplete=allow_incomplete,
    )


def timed(stage: str, call: Callable[[], dict[str, Any]], locked: bool = False) -> dict[str, Any]:
    """Run one library stage; the XCom value is its name, counts and wall time (no person data).

    Args:
        stage: the stage's name in ``run_summary.json`` (as ``safelink.pipeline.run_night`` names it).
        call: the library call.
        locked: hold the output's run lock (the one ``safelink run`` holds) during the call: stages that
            write the state database never run at the same time as another night's (several runs may be
            active; ``max_active_runs`` no longer serialises them) or a CLI run's.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from alerts.smtp import SmtpConfigError
    from ground.config import ConfigError
    from ground.errors import OperatorError

    started = time.perf_counter()
    try:
        counts = _locked(call) if locked else call()
    except (ConfigError, SmtpConfigError, OperatorError, NoLogicalDate) as exc:
        # A retry cannot fix configuration: fail now (the failure mail names the fix), not after the retries.
        raise AirflowFailException(str(exc).splitlines()[0][:500]) from exc
    duration = round(time.perf_counter() - started, 3)
    log.info("stage=%s duration_s=%.3f counts=%s", stage, duration, counts)
    return {"stage": stage, "counts": counts, "duration_s": duration}


def _locked(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    from ground.run_lock import run_lock
    from ground.settings import load_settings

    n = night()
    with run_lock(n.output, n.state, load_settings().lock_wait_s):
        return call()


class DropSensor(BaseSensorOperator):
    """Waits for ``<landing>/<date>/_SUCCESS`` in the triggerer (deferrable): no worker slot while waiting.

    Done at once when the marker is there; otherwise it defers to :class:`safelink.triggers.DropTrigger`
    (looking every ``poke_interval`` seconds) for at most ``timeout`` seconds; with ``soft_fail`` a timeout
    skips the task. Deferring replaced the reschedule mode, which raced the scheduler at short poke
    intervals (a poke re-queued before the previous one was recorded failed the run).
    """

    def poke(self, context: Context) -> bool:
        """Whether the drop's marker exists.

        Args:
            context: the task's Airflow context.
        """
        return drop_marker(context).is_file()

    def execute(self, context: Context) -> None:
        """Done now, or defer to the triggerer until the marker appears or the timeout passes.

        Args:
            context: the task's Airflow context.
        """
        from safelink.triggers import DropTrigger

        marker = drop_marker(context)
        if marker.is_file():
            return
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.timeout)
        self.defer(trigger=DropTrigger(str(marker), deadline.isoformat(), self.poke_interval),
                   method_name="execute_complete",
                   timeout=dt.timedelta(seconds=self.timeout + 60))  # the trigger's own deadline comes first

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """The trigger's event: the marker was found, or the wait timed out (skipped with ``soft_fail``).

        Args:
            context: the task's Airflow context.
            event: ``{"found": bool}``.

        Raises:
            AirflowSensorTimeout: not found by the deadline.
        """
        from airflow.sdk.exceptions import AirflowSensorTimeout

        if not (event or {}).get("found"):
            raise AirflowSensorTimeout(f"no _SUCCESS marker within {self.timeout:g}s")
        log.info("drop marker found")


def _safe_error(exc: BaseException | None) -> str:
    """The exception as one short line, NHS-number-like digit runs masked."""
    from ground.logs import redact

    if exc is None:
        return "unknown error (no exception in the task context)"
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return redact(f"{type(exc).__name__}: {first_line}")[:500]


def notify_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: mail the data-engineering address (config/leads.yaml) about the failure.

    Sends the DAG, task, extract date, error (type and first line, masked) and the log link; never
    person data. ``alerts`` is imported here so that the DAGs parse even without it; a failure to
    notify is logged and never hides the task's own failure.

    Args:
        context: the failed task's Airflow context.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None) or "?"
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        task_id = f"{task_id}[{map_index}]"
    try:
        declared = getattr(context.get("dag"), "params", None) or {}
        run_date = extract_date(context, date_param="extract_date" in declared).isoformat()
    except Exception:
        run_date = "?"
    try:
        log_url = str(getattr(ti, "log_url", "") or "")
    except Exception:
        log_url = ""
    error = _safe_error(context.get("exception"))
    try:
        from alerts import send_failure_notice

        send_failure_notice(config_dir(), dag_id, task_id, run_date, error, log_url)
        log.info("failure notice sent dag_id=%s task_id=%s run_date=%s", dag_id, task_id, run_date)
    except Exception:
        log.exception("could not send the failure notice dag_id=%s task_id=%s run_date=%s",
                      dag_id, task_id, run_date)
