"""A real Airflow deployment for tests: api-server, scheduler, dag-processor, triggerer (and Celery workers).

The components run as subprocesses (each in its own process group, killed at teardown) on a throwaway
PostgreSQL metadata database, with free ports chosen at runtime, the way docs/deployment.md tells an
engineer to run them without Docker. ``executor="CeleryExecutor"`` adds ``airflow celery worker``
processes on the local Redis (database 2, this worktree's) with PostgreSQL as the result backend.

Component logs (``<base>/logs/<component>.log``) hold Airflow's own lines, never person data; a timeout
fails with their tails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("SAFELINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SAFELINK_TEST_REDIS", "redis://127.0.0.1:6379/2")  # db 2: this worktree's
DAG_ID = "safeguarding_nightly"
# The components docs/deployment.md starts, in its order.
COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")
WORKER_NAME_ENV = "SAFELINK_TEST_WORKER_NAME"


def worker_hostname() -> str:
    """``[core] hostname_callable`` for test workers: two workers on one machine stand for two machines."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    """A URL for ``database`` on the test PostgreSQL server.

    Args:
        database: the database name.
        driver: the URL scheme (``postgresql`` for psycopg itself, ``db+postgresql+psycopg`` for Celery).
    """
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", f"{driver}://", 1)
    return f"{base}/{database}"


@dataclass
class AirflowDeployment:
    """Running components and how to talk to them."""

    base: Path
    env: dict[str, str]
    databases: dict[str, str]
    api_port: int
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        """Start one component in its own process group, its output in ``logs/<name>.log``.

        Args:
            name: the component's name in failure messages.
            argv: the command after ``airflow``.
            extra_env: settings for this process only (a worker's log-server port).
        """
        out = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen([str(BIN / "airflow"), *argv], env={**self.env, **(extra_env or {})},
                                            cwd=self.base, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        out.close()

    def tail(self, lines: int = 25) -> str:
        """The last lines of every component's log (Airflow's own lines: no person data)."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(parts)

    def check_alive(self) -> None:
        """Fail with the logs' tails when a component has exited."""
        dead = {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow component(s) exited: {dead}\n{self.tail()}")

    def wait_for(self, what: str, ready: Callable[[], Any], timeout_s: float, every_s: float = 1.0) -> Any:
        """Poll ``ready`` until it returns something truthy; fail after ``timeout_s`` with the logs' tails.

        Args:
            what: what is awaited, for the failure message.
            ready: returns a truthy value when done.
            timeout_s: how long to wait.
            every_s: the poll interval.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_alive()
            value = ready()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n{self.tail()}")
            time.sleep(every_s)

    def sh(self, command: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
        """Run one shell command line (as docs/deployment.md writes it) in the deployment's environment.

        Args:
            command: the command line; ``airflow`` and ``safelink`` resolve to this environment's.
            timeout_s: how long it may take.
        """
        env = {**self.env, "PATH": f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"}
        result = subprocess.run(["bash", "-c", command], env=env, cwd=self.base, capture_output=True, text=True,
                                timeout=timeout_s, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise AssertionError(f"`{command}` exited {result.returncode}:\n{tail}\n{self.tail()}")
        return result

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows from the Airflow metadata database.

        Args:
            sql: a query with ``%s`` placeholders.
            params: their values.
        """
        import psycopg

        with psycopg.connect(pg_url(self.databases["airflow"], "postgresql"), autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]

    def runs(self) -> list[dict[str, Any]]:
        """The nightly DAG's runs: run id, type, state, logical date (oldest first)."""
        rows = self.query("SELECT run_id, run_type, state, logical_date FROM dag_run WHERE dag_id = %s "
                          "ORDER BY id", DAG_ID)
        return [dict(zip(("run_id", "run_type", "state", "logical_date"), row, strict=True)) for row in rows]

    def task_states(self, run_id: str) -> dict[str, list[str | None]]:
        """Each task's states in one run (a list: one per mapped index).

        Args:
            run_id: the run.
        """
        out: dict[str, list[str | None]] = {}
        for task_id, state in self.query("SELECT task_id, state FROM task_instance WHERE dag_id = %s AND run_id = %s "
                                         "ORDER BY task_id, map_index", DAG_ID, run_id):
            out.setdefault(task_id, []).append(state)
        return out

    def wait_for_run(self, run_id: str, timeout_s: float, every_s: float = 2.0) -> str:
        """Wait until a run has finished; returns its state (fails with task states and log tails on timeout).

        Args:
            run_id: the run.
            timeout_s: how long it may take.
            every_s: the poll interval.
        """
        def finished() -> str | None:
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", DAG_ID, run_id)
            state = rows[0][0] if rows else None
            return state if state in ("success", "failed") else None

        try:
            return str(self.wait_for(f"run {run_id} to finish", finished, timeout_s, every_s))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ntask states: {json.dumps(self.task_states(run_id))}") from None

    def stop(self) -> None:
        """Stop every component: SIGTERM to each process group, SIGKILL to what is left after 10 s."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: task runners the component forked
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def worker_command(name: str, queues: str) -> str:
    """The Celery worker command line docs/deployment.md gives, for one worker.

    Args:
        name: the worker's Celery name (unique per worker).
        queues: comma-separated queues it takes tasks from.
    """
    return f"airflow celery worker --celery-hostname {name}@%h --queues {queues}"


def _create_databases(admin: Any) -> dict[str, str]:
    suffix = secrets.token_hex(4)
    names = {"airflow": f"airflow_deploy_{suffix}", "state": f"safelink_deploy_{suffix}"}
    for name in names.values():
        admin.execute(f'CREATE DATABASE "{name}"')
    return names


def airflow_env(base: Path, databases: dict[str, str], api_port: int, executor: str,
                safelink: dict[str, str]) -> dict[str, str]:
    """The environment of every component: docs/deployment.md's settings with this test's values.

    Args:
        base: the deployment's folder (``AIRFLOW_HOME`` is ``<base>/airflow``).
        databases: the metadata (``airflow``) and state (``state``) database names.
        api_port: the API server's port (not 8080: the guide's point is that any port works when set).
        executor: ``LocalExecutor`` or ``CeleryExecutor``.
        safelink: the ``SAFELINK_*`` settings.
    """
    from cryptography.fernet import Fernet

    metadata = pg_url(databases["airflow"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SAFELINK_"))}
    env.update({
        "AIRFLOW_HOME": str(base / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/London",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",
        "PYTHONPATH": str(ROOT),
        **safelink,
    })
    if executor == "CeleryExecutor":
        env.update({
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": pg_url(databases["airflow"], "db+postgresql+psycopg"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        })
    return env


def _api_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _flush_redis() -> None:
    """Empty this worktree's Redis database: a killed earlier run may have left queued Celery messages."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@contextlib.contextmanager
def airflow_deployment(base: Path, safelink: dict[str, str], executor: str = "LocalExecutor",
                       workers: tuple[str, ...] = (), queues: str = "default",
                       startup_timeout_s: float = 240) -> Iterator[AirflowDeployment]:
    """Migrate a fresh metadata database and start the components; stop them and drop the databases after.

    Args:
        base: an empty folder for the Airflow home and the component logs.
        safelink: the ``SAFELINK_*`` settings (``SAFELINK_STATE_URL`` defaults to a fresh database).
        executor: ``LocalExecutor`` or ``CeleryExecutor``.
        workers: Celery worker names (each ``airflow celery worker --celery-hostname <name>@%h``).
        queues: the queues every worker listens on.
        startup_timeout_s: how long migrations and start-up may take.
    """
    import psycopg

    admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    databases = _create_databases(admin)
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api_port = free_port()
    settings = {"SAFELINK_STATE_URL": pg_url(databases["state"]), **safelink}
    deployment = AirflowDeployment(base, airflow_env(base, databases, api_port, executor, settings), databases,
                                   api_port, logs)
    try:
        deployment.sh("airflow db migrate", timeout_s=startup_timeout_s)
        if executor == "CeleryExecutor":
            _flush_redis()
        for component in COMPONENTS:
            deployment.start(component, [component])
        for name in workers:
            deployment.start(f"worker-{name}", shlex.split(worker_command(name, queues))[1:], {
                WORKER_NAME_ENV: name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.helpers.airflow_deployment.worker_hostname",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
        _wait_until_ready(deployment, workers, startup_timeout_s)
        yield deployment
    finally:
        deployment.stop()
        for name in databases.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _wait_until_ready(deployment: AirflowDeployment, workers: tuple[str, ...], timeout_s: float) -> None:
    deployment.wait_for("the API server's health endpoint", lambda: _api_healthy(deployment.api_port), timeout_s)
    deployment.wait_for("the DAG processor to serialise the nightly DAG", lambda: deployment.query(
        "SELECT 1 FROM serialized_dag WHERE dag_id = %s", DAG_ID), timeout_s)
    for job in ("SchedulerJob", "TriggererJob"):
        deployment.wait_for(f"a running {job}", lambda j=job: deployment.query(  # type: ignore[misc]
            "SELECT 1 FROM job WHERE job_type = %s AND state = 'running'", j), timeout_s)
    for name in workers:
        log = deployment.logs / f"worker-{name}.log"
        deployment.wait_for(f"Celery worker {name} to be ready", lambda path=log: path.exists() and (  # type: ignore[misc]
            " ready." in path.read_text(encoding="utf-8", errors="replace")), timeout_s)
