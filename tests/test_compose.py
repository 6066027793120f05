"""The docker-compose stacks, checked as Compose reads them (no Docker engine here): services, health, required
secrets, loopback-only ports, the demo profile, one database user per database, the Celery shape the Celery
test runs (#15 row 15, #18)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.compose import (
    MissingVariable,
    active_services,
    interpolate,
    load,
    merge,
    read_env_file,
    service_env,
    variables,
)

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
SECRETS = ("POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "SAFELINK_DB_PASSWORD", "AIRFLOW_JWT_SECRET",
           "AIRFLOW_FERNET_KEY", "SAFELINK_CASE_VIEW_SECRET_KEY", "REDIS_PASSWORD")
FILES = ("docker-compose.yml", "docker-compose.celery.yml")
DEMO = read_env_file(ROOT / ".env.demo")
CELERY_EXTRA = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "optional-dependencies"]["celery"]


def _stack(files: tuple[str, ...], env: dict[str, str]) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for name in files:
        services = merge(services, load(name)["services"])
    return interpolate(services, env)


@pytest.fixture(scope="module")
def local() -> dict[str, Any]:
    return _stack(FILES[:1], DEMO)


@pytest.fixture(scope="module")
def celery() -> dict[str, Any]:
    return _stack(FILES, DEMO)


@pytest.mark.parametrize("name", FILES)
def test_every_secret_is_required_with_no_fallback(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    found = variables(text)
    secret_like = [(v, op, arg) for v, op, arg in found if re.search(r"PASSWORD|SECRET|KEY", v)]
    assert secret_like
    for var, op, arg in secret_like:
        if var == "SAFELINK_SMTP_PASSWORD":  # optional (a relay without login): empty, never a made-up value
            assert (op, arg) == (":-", ""), var
            continue
        assert var in SECRETS and op == ":?", (var, op, arg)
    assert "admin:admin" not in text and "change-me" not in text


def test_compose_refuses_to_start_without_each_secret() -> None:
    for secret in ("POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "SAFELINK_DB_PASSWORD", "AIRFLOW_JWT_SECRET",
                   "AIRFLOW_FERNET_KEY", "SAFELINK_CASE_VIEW_SECRET_KEY"):
        env = {k: v for k, v in DEMO.items() if k != secret}
        with pytest.raises(MissingVariable, match=rf"^{secret}: set {secret}"):
            _stack(FILES[:1], env)
    with pytest.raises(MissingVariable, match=r"^REDIS_PASSWORD"):
        _stack(FILES, {k: v for k, v in DEMO.items() if k != "REDIS_PASSWORD"})
    with pytest.raises(MissingVariable):
        _stack(FILES[:1], {})


def test_demo_env_file_gives_every_required_variable_and_a_real_fernet_key() -> None:
    from cryptography.fernet import Fernet

    required = {v for name in FILES for v, op, _ in variables((ROOT / name).read_text(encoding="utf-8"))
                if op == ":?"}
    assert required <= {k for k, v in DEMO.items() if v}, required - set(DEMO)
    Fernet(DEMO["AIRFLOW_FERNET_KEY"].encode())  # a valid key, or this raises
    assert DEMO["COMPOSE_PROFILES"] == "demo" and DEMO["SAFELINK_SMTP_HOST"] == "mailpit"
    documented = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "docker compose --env-file .env.demo up -d --build" in documented


def test_every_published_port_is_on_loopback(celery: dict[str, Any]) -> None:
    published = {name: svc["ports"] for name, svc in celery.items() if svc.get("ports")}
    assert set(published) == {"airflow-apiserver", "mailpit", "case-view"}
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_mailpit_only_in_the_demo_profile(local: dict[str, Any]) -> None:
    assert local["mailpit"]["profiles"] == ["demo"]
    production = active_services(local, set())
    assert "mailpit" not in production
    for name, svc in production.items():
        assert "mailpit" not in (svc.get("depends_on") or {}), name
    assert set(active_services(local, {"demo"})) == set(production) | {"mailpit"}
    # production names its relay (no default host), TLS by default; the demo points at Mailpit without TLS
    prod_env = {k: v for k, v in DEMO.items() if not k.startswith("SAFELINK_SMTP_")} | {
        "SAFELINK_SMTP_HOST": "relay.nhs.net", "SAFELINK_SMTP_FROM": "a@nhs.net"}
    scheduler = service_env(_stack(FILES[:1], prod_env)["airflow-scheduler"])
    assert (scheduler["SAFELINK_SMTP_HOST"], scheduler["SAFELINK_SMTP_SECURITY"]) == ("relay.nhs.net", "starttls")
    with pytest.raises(MissingVariable, match=r"^SAFELINK_SMTP_HOST"):
        _stack(FILES[:1], {k: v for k, v in DEMO.items() if k != "SAFELINK_SMTP_HOST"})
    demo = service_env(local["airflow-scheduler"])
    assert (demo["SAFELINK_SMTP_HOST"], demo["SAFELINK_SMTP_PORT"], demo["SAFELINK_SMTP_SECURITY"]) == (
        "mailpit", "1025", "none")
    init = service_env(local["airflow-init"])
    assert init["SAFELINK_MAILPIT_DEMO"] == "true"
    assert service_env(_stack(FILES[:1], {**DEMO, "SAFELINK_MAILPIT_DEMO": ""})["airflow-init"])[
        "SAFELINK_MAILPIT_DEMO"] == "false"  # placeholders are mailed only in the demo


def test_separate_database_users_for_airflow_and_the_state(local: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init", "case-view"):
        env = service_env(local[name])
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql+psycopg://airflow:{DEMO['AIRFLOW_DB_PASSWORD']}@postgres:5432/airflow"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["SAFELINK_STATE_URL"] == (
            f"postgresql+psycopg://safelink:{DEMO['SAFELINK_DB_PASSWORD']}@postgres:5432/safelink"), name
    postgres = local["postgres"]
    assert service_env(postgres)["POSTGRES_USER"] == "postgres"
    mount = "./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-init-databases.sh:ro"
    assert mount in postgres["volumes"]
    script = (ROOT / "deploy" / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    for statement in ("CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';",
                      "CREATE DATABASE airflow OWNER airflow;",
                      "CREATE ROLE safelink LOGIN PASSWORD :'safelink_password';",
                      "CREATE DATABASE safelink OWNER safelink;", "REVOKE ALL ON DATABASE airflow FROM PUBLIC;",
                      "REVOKE ALL ON DATABASE safelink FROM PUBLIC;"):
        assert statement in script, statement
    guide = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert "CREATE DATABASE safelink OWNER safelink;" in guide  # the guide without Docker does the same


def test_fernet_key_jwt_secret_and_timezone_shared_by_every_airflow_service(celery: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init", "airflow-worker"):
        env = service_env(celery[name])
        assert env["AIRFLOW__CORE__FERNET_KEY"] == DEMO["AIRFLOW_FERNET_KEY"], name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == DEMO["AIRFLOW_JWT_SECRET"], name
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Europe/London", name  # dates on the CLI are London's
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name


def test_every_long_running_service_has_a_healthcheck(local: dict[str, Any], celery: dict[str, Any]) -> None:
    for stack in (local, celery):
        for name, svc in stack.items():
            if name == "airflow-init":
                continue
            check = svc.get("healthcheck")
            assert check and check.get("test"), name
            assert {"interval", "timeout", "retries"} <= set(check), name


def test_airflow_services_share_image_and_volumes(local: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        svc = local[name]
        assert svc["build"]["context"] == "." and svc["build"]["dockerfile"] == "Dockerfile", name
        assert svc["image"] == "safelink-airflow:latest", name
        env = service_env(svc)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name
        assert env["SAFELINK_LANDING"] == "/data/landing" and env["SAFELINK_OUTPUT"] == "/data/output", name
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
        assert mounts["/data/landing"] == "safelink-landing" and mounts["/data/output"] == "safelink-output", name
    for name in AIRFLOW_SERVICES:
        assert "./dags:/opt/airflow/dags:ro" in local[name]["volumes"], name


def test_start_order_waits_for_health_and_init(local: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        deps = local[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    for name in ("airflow-scheduler", "airflow-triggerer"):
        assert local[name]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert local["airflow-init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_commands(local: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        assert local[name]["command"] == [name.removeprefix("airflow-").replace("apiserver", "api-server")]
    init = "\n".join(local["airflow-init"]["command"])
    assert "airflow db migrate" in init and "CREATE DATABASE" not in init  # the databases come from the init script


def test_named_volumes_declared() -> None:
    data = load("docker-compose.yml")
    declared = set(data["volumes"])
    for svc in data["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, source
    assert {"safelink-landing", "safelink-output", "postgres-data"} <= declared


def test_celery_variant_is_what_the_celery_test_runs(celery: dict[str, Any]) -> None:
    from tests.test_celery import QUEUES, WORKERS

    assert {"redis", "airflow-worker"} <= set(celery)
    broker = f"redis://:{DEMO['REDIS_PASSWORD']}@redis:6379/0"
    backend = f"db+postgresql+psycopg://airflow:{DEMO['AIRFLOW_DB_PASSWORD']}@postgres:5432/airflow"
    for name in (*AIRFLOW_SERVICES, "airflow-worker", "airflow-init"):
        env = service_env(celery[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == broker, name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == backend, name
        assert celery[name]["build"]["args"]["EXTRA_PIP"].split() == CELERY_EXTRA, name
    assert celery["redis"]["command"] == ["redis-server", "--requirepass", DEMO["REDIS_PASSWORD"]]
    worker = celery["airflow-worker"]
    assert worker["command"] == ["celery", "worker", "--queues", QUEUES]
    assert int(worker["deploy"]["replicas"]) == len(WORKERS)
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    mounts = {v.split(":")[1] for v in worker["volumes"]}
    assert {"/data/landing", "/data/output", "/opt/airflow/dags"} <= mounts
    # the worker repeats the common settings (anchors do not cross files): they must not drift
    scheduler_env, worker_env = service_env(celery["airflow-scheduler"]), service_env(worker)
    for key, value in scheduler_env.items():
        if key.startswith(("AIRFLOW__CORE__", "AIRFLOW__DATABASE__", "AIRFLOW__API", "AIRFLOW__CELERY__",
                           "SAFELINK_")) and key not in ("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
                                                         "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS") \
                and not key.startswith("SAFELINK_WAIT_"):
            assert worker_env.get(key) == value, key


@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.celery.yml"]])
def test_compose_cli_accepts_the_files(files: list[str]) -> None:
    """``docker compose config`` validates the files without an engine, when the CLI is installed."""
    cli = ([shutil.which("docker"), "compose"] if shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0 else None)
    if cli is None:
        pytest.skip("`docker compose` is not installed (the YAML tests above need no Docker)")
    args = [str(c) for c in cli] + ["--env-file", ".env.demo"] + [x for f in files for x in ("-f", f)] + [
        "config", "-q"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr


def test_dockerfile_builds_the_project_on_python_311_slim() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"pip install .*-e \.", text)
    assert "COPY dags /opt/airflow/dags" in text
    assert re.search(r"^USER ", text, re.MULTILINE)  # not root
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".git", ".venv", "*.sqlite", ".env", ".env.*"} <= set(ignored)
    for package in ("landing", "linkage", "alerts", "report", "checks", "safelink", "config", "dags"):
        assert package not in ignored


def test_case_view_service(local: dict[str, Any]) -> None:
    svc = local["case-view"]
    assert svc["entrypoint"][-1] == "safelink" and svc["command"][:3] == ["serve", "--output", "/data/output"]
    env = service_env(svc)
    assert env["SAFELINK_STATE_URL"].endswith("@postgres:5432/safelink")  # the nightly run's state database
    assert env["SAFELINK_CASE_VIEW_SECRET_KEY"] == DEMO["SAFELINK_CASE_VIEW_SECRET_KEY"]
    assert svc["ports"] == ["127.0.0.1:8000:8000"]  # loopback only: the TLS proxy is the way in
    assert "/healthz" in " ".join(svc["healthcheck"]["test"])
    assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
