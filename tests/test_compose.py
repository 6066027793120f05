"""The docker-compose stacks, checked as YAML (no Docker engine here): services, health, env, volumes."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
LONG_RUNNING_AIRFLOW = (*AIRFLOW_SERVICES, "airflow-worker")


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _merge(base: Any, override: Any) -> Any:
    """Compose's override semantics, enough for these files: mappings merge, everything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


@pytest.fixture(scope="module")
def local() -> dict[str, Any]:
    return _load("docker-compose.yml")["services"]


@pytest.fixture(scope="module")
def celery() -> dict[str, Any]:
    base = _load("docker-compose.yml")
    override = _load("docker-compose.celery.yml")
    return _merge(base["services"], override["services"])


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_local_stack_services(local: dict[str, Any]) -> None:
    assert set(local) == {"postgres", "mailpit", "airflow-init", "case-view", *AIRFLOW_SERVICES}


def test_every_long_running_service_has_a_healthcheck(local: dict[str, Any], celery: dict[str, Any]) -> None:
    for stack in (local, celery):
        for name, svc in stack.items():
            if name == "airflow-init":
                continue
            check = svc.get("healthcheck")
            assert check and check.get("test"), name
            assert {"interval", "timeout", "retries"} <= set(check), name


def test_airflow_services_share_image_env_and_volumes(local: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        svc = local[name]
        assert svc["build"]["context"] == "." and svc["build"]["dockerfile"] == "Dockerfile", name
        assert svc["image"] == "safelink-airflow:latest", name
        env = _env(svc)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://"), name
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name
        assert env["SAFELINK_SMTP_HOST"] == "mailpit" and env["SAFELINK_SMTP_PORT"] == "1025", name
        assert env["SAFELINK_SMTP_SECURITY"] == "none", name
        assert env["SAFELINK_STATE_URL"].endswith("@postgres:5432/safelink"), name
        assert env["SAFELINK_LANDING"] == "/data/landing" and env["SAFELINK_OUTPUT"] == "/data/output", name
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
        assert mounts["/data/landing"] == "safelink-landing" and mounts["/data/output"] == "safelink-output", name
    # one JWT secret for all (tasks fail with "Invalid auth token" otherwise)
    assert len({_env(local[n])["AIRFLOW__API_AUTH__JWT_SECRET"] for n in AIRFLOW_SERVICES}) == 1
    for name in AIRFLOW_SERVICES:
        assert "./dags:/opt/airflow/dags:ro" in local[name]["volumes"], name


def test_start_order_waits_for_health_and_init(local: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        deps = local[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["mailpit"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    for name in ("airflow-scheduler", "airflow-triggerer"):
        assert local[name]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert local["airflow-init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_commands_and_ports(local: dict[str, Any]) -> None:
    assert local["airflow-apiserver"]["command"] == ["api-server"]
    assert local["airflow-scheduler"]["command"] == ["scheduler"]
    assert local["airflow-dag-processor"]["command"] == ["dag-processor"]
    assert local["airflow-triggerer"]["command"] == ["triggerer"]
    assert "8080:8080" in local["airflow-apiserver"]["ports"]
    assert {"8025:8025", "1025:1025"} <= set(local["mailpit"]["ports"])
    init = "\n".join(local["airflow-init"]["command"])
    assert "airflow db migrate" in init and "CREATE DATABASE safelink" in init


def test_named_volumes_declared() -> None:
    data = _load("docker-compose.yml")
    declared = set(data["volumes"])
    for svc in data["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, source
    assert {"safelink-landing", "safelink-output", "postgres-data"} <= declared


def test_celery_variant(celery: dict[str, Any]) -> None:
    assert {"redis", "airflow-worker"} <= set(celery)
    for name in (*AIRFLOW_SERVICES, "airflow-worker", "airflow-init"):
        env = _env(celery[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379" in env[
            "AIRFLOW__CELERY__BROKER_URL"], name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert "celery" in celery[name]["build"]["args"]["EXTRA_PIP"], name
    worker = celery["airflow-worker"]
    assert worker["command"] == ["celery", "worker"]
    assert int(worker["deploy"]["replicas"]) >= 2
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    mounts = {v.split(":")[1] for v in worker["volumes"]}
    assert {"/data/landing", "/data/output", "/opt/airflow/dags"} <= mounts
    # the worker repeats the common settings (anchors do not cross files): they must not drift
    scheduler_env, worker_env = _env(celery["airflow-scheduler"]), _env(worker)
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "SAFELINK_STATE_URL",
                "SAFELINK_SMTP_HOST", "SAFELINK_SMTP_PORT", "SAFELINK_SMTP_SECURITY", "SAFELINK_LANDING",
                "SAFELINK_OUTPUT", "SAFELINK_CONFIG", "AIRFLOW__CORE__DAGS_FOLDER"):
        assert worker_env[key] == scheduler_env[key], key


@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.celery.yml"]])
def test_compose_cli_accepts_the_files(files: list[str]) -> None:
    """``docker compose config`` (or docker-compose v1) validates the files without an engine, when installed."""
    cli = ([shutil.which("docker"), "compose"] if shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
        else [shutil.which("docker-compose")] if shutil.which("docker-compose") else None)
    if cli is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    args = [str(c) for c in cli] + [x for f in files for x in ("-f", f)] + ["config", "-q"]
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
    assert {".git", ".venv", "*.sqlite"} <= set(ignored)
    for package in ("landing", "linkage", "alerts", "report", "checks", "safelink", "config", "dags"):
        assert package not in ignored


def test_case_view_service(local: dict[str, Any]) -> None:
    svc = local["case-view"]
    assert svc["entrypoint"][-1] == "safelink" and svc["command"][:3] == ["serve", "--output", "/data/output"]
    env = _env(svc)
    assert env["SAFELINK_STATE_URL"].endswith("@postgres:5432/safelink")  # the nightly run's state database
    assert env["SAFELINK_CASE_VIEW_SECRET_KEY"] and env["SAFELINK_CASE_VIEW_URL"]
    assert svc["ports"] == ["127.0.0.1:8000:8000"]  # loopback only: the TLS proxy is the way in
    assert "/healthz" in " ".join(svc["healthcheck"]["test"])
    assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
