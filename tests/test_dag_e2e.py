"""The nightly DAG end to end: ``airflow dags test`` on PostgreSQL metadata, digests to a local SMTP server.

Needs PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust auth); each module run creates two throwaway
databases (Airflow metadata, safelink state) and drops them afterwards.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.sample import generated_drop
from tests.test_metrics import StatsdListener

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
AIRFLOW = Path(sys.executable).parent / "airflow"
PG_ADMIN = os.environ.get("SAFELINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
EXTRACT = dt.date(2026, 11, 25)
PAIRS_PER_SHARD = 250
RUN_TIMEOUT_S = 300  # generous: a shared CI machine; the suite budget is checked by --durations

pytestmark = pytest.mark.slow


def _pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", f"{driver}://", 1)
    return f"{base}/{database}"


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    messages: list[Message] = field(default_factory=list)

    def subjects(self) -> list[str]:
        return [str(m["Subject"] or "").replace("\n", "").replace("\r", "") for m in self.messages]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook name
        msg = email.message_from_bytes(envelope.original_content or envelope.content)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.messages.append(msg)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_dbs() -> Iterator[dict[str, str]]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    suffix = secrets.token_hex(4)
    names = {"airflow": f"airflow_e2e_{suffix}", "state": f"safelink_e2e_{suffix}"}
    for name in names.values():
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        for name in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = _free_port()
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def statsd() -> Iterator[StatsdListener]:
    """A UDP socket standing in for the StatsD daemon Airflow's [metrics] settings point at."""
    listener = StatsdListener()
    try:
        yield listener
    finally:
        listener.sock.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres_dbs: dict[str, str],
               mailbox: tuple[Mailbox, int], statsd: StatsdListener) -> dict[str, Any]:
    """A drop, a config whose leads accept real delivery, an Airflow home with migrated PostgreSQL metadata."""
    base = tmp_path_factory.mktemp("e2e")
    landing = generated_drop(base, EXTRACT, 60, 11)
    config = base / "config"
    shutil.copytree(ROOT / "config", config)
    leads_path = config / "leads.yaml"
    leads = leads_path.read_text(encoding="utf-8")
    # the placeholder mailboxes are refused when an SMTP host is configured; the test server takes them
    leads_path.write_text(leads.replace("demo_addresses: true", "demo_addresses: false"), encoding="utf-8")
    linkage_path = config / "linkage.yaml"  # a few hundred pairs per shard: tonight's scoring is several mapped tasks
    linkage = linkage_path.read_text(encoding="utf-8")
    assert "pairs_per_shard: 1000000" in linkage
    linkage_path.write_text(linkage.replace("pairs_per_shard: 1000000", f"pairs_per_shard: {PAIRS_PER_SHARD}"),
                            encoding="utf-8")
    data_engineering = yaml.safe_load(leads)["data_engineering"]["email"]
    home = base / "airflow"
    home.mkdir()
    _, port = mailbox
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SAFELINK_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _pg_url(postgres_dbs["airflow"]),
        # psycopg 3 is async-capable: without this Airflow derives an asyncpg URL (not installed)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _pg_url(postgres_dbs["airflow"]),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "SAFELINK_LANDING": str(landing),
        "SAFELINK_OUTPUT": str(base / "output"),
        "SAFELINK_CONFIG": str(config),
        "SAFELINK_STATE_URL": _pg_url(postgres_dbs["state"]),
        "SAFELINK_SMTP_HOST": "127.0.0.1",
        "SAFELINK_SMTP_PORT": str(port),
        "SAFELINK_SMTP_SECURITY": "none",
        "SAFELINK_SMTP_FROM": "safelink-e2e@nhs.net",
        "SAFELINK_WAIT_POKE_S": "1",
        "SAFELINK_WAIT_TIMEOUT_S": "30",
        "SAFELINK_RETRIES": "0",
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        "PYTHONPATH": str(ROOT),
    }
    started = time.perf_counter()
    _airflow(env, "db", "migrate", timeout=240)
    return {"base": base, "env": env, "output": base / "output", "landing": landing, "config": config,
            "data_engineering": data_engineering, "migrate_s": time.perf_counter() - started,
            "metadata": postgres_dbs["airflow"]}


def _airflow(env: dict[str, str], *args: str, timeout: int = RUN_TIMEOUT_S,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(AIRFLOW), *args], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"airflow {' '.join(args)} exited {result.returncode}:\n{tail}")
    return result


def _dags_test(env: dict[str, str], date: dt.date, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _airflow(env, "dags", "test", "safeguarding_nightly", date.isoformat(), check=check)


def _asset_events(database: str) -> list[tuple[str, dict[str, Any]]]:
    """The asset events in Airflow's metadata database: (asset URI, extra), oldest first."""
    import psycopg

    with psycopg.connect(_pg_url(database, "postgresql"), autocommit=True) as conn:
        rows = conn.execute("SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                            "ORDER BY e.id").fetchall()
    return [(str(uri), dict(extra or {})) for uri, extra in rows]


def test_nightly_run_end_to_end_then_rerun_sends_nothing_twice(deployment: dict[str, Any],
                                                                mailbox: tuple[Mailbox, int],
                                                                statsd: StatsdListener) -> None:
    box, _ = mailbox
    env, night_dir = deployment["env"], deployment["output"] / EXTRACT.isoformat()

    started = time.perf_counter()
    _dags_test(env, EXTRACT)
    first_s = time.perf_counter() - started

    # the publish task sent the night's counts to the StatsD server of Airflow's [metrics] settings
    lines = statsd.lines()
    gauges = {name: int(value.split("|")[0]) for name, _, value in (line.partition(":") for line in lines)
              if name.startswith("airflow.safelink.night.") and value.endswith("|g")}
    stages = json.loads((night_dir / "run_summary.json").read_text(encoding="utf-8"))["stages"]
    assert gauges["airflow.safelink.night.findings"] == stages["detect"]["findings"]
    assert gauges["airflow.safelink.night.links"] == stages["link"]["links"]
    assert gauges["airflow.safelink.night.review_pairs"] == stages["link"]["review_pairs"]
    assert gauges["airflow.safelink.night.set_aside"] == stages["combine"]["quarantined"]
    assert gauges["airflow.safelink.night.undelivered"] == 0
    assert gauges["airflow.safelink.night.rows_read"] == sum(
        row["rows_read"] for row in stages["combine"]["conservation"].values())
    # downstream DAGs can schedule on the night's findings and report
    events = _asset_events(deployment["metadata"])
    night_extra = {"extract_date": EXTRACT.isoformat(), "night": str(night_dir)}
    assert sorted(events, key=lambda e: e[0]) == [("safelink://safeguarding_nightly/findings", night_extra),
                                                  ("safelink://safeguarding_nightly/report", night_extra)]

    for name in ("person_links.csv", "findings.csv", "report.html", "run_summary.json"):
        assert (night_dir / name).is_file(), name
    summary = json.loads((night_dir / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["extract_date"] == EXTRACT.isoformat()  # dags test 2026-11-25 processes the 2026-11-25 drop
    expected_stages = {"wait", "combine", "link_block", "link_score", "link", "detect", "send", "report"} | {
        f"ingest_{s}" for s in ("hv", "sn", "camhs", "gp", "dental", "tp", "amh")}
    assert expected_stages <= set(summary["stages"])
    assert set(summary["durations_s"]) == set(summary["stages"])
    assert summary["stages"]["wait"]["complete_drop"] is True
    assert box.messages, "no digest reached the SMTP server"
    assert not any("failure" in s.lower() for s in box.subjects()), box.subjects()
    sent_first = len(box.messages)
    outputs_first = {n: (night_dir / n).read_bytes() for n in ("person_links.csv", "findings.csv")}

    started = time.perf_counter()
    _dags_test(env, EXTRACT)
    second_s = time.perf_counter() - started
    assert len(box.messages) == sent_first, "the rerun sent e-mail again"
    assert {n: (night_dir / n).read_bytes() for n in outputs_first} == outputs_first  # same outputs
    logging.getLogger(__name__).info("migrate %.1fs, first run %.1fs, rerun %.1fs",
                                     deployment["migrate_s"], first_s, second_s)


def _score_shard_instances(postgres_dbs: dict[str, str]) -> dict[str, list[tuple[int, str]]]:
    """Each DAG run's ``score_shard`` task instances as (map index, state), from Airflow's metadata database."""
    import psycopg

    with psycopg.connect(_pg_url(postgres_dbs["airflow"], "postgresql")) as conn:
        rows = conn.execute("SELECT run_id, map_index, state FROM task_instance WHERE dag_id = %s AND task_id = %s "
                            "ORDER BY run_id, map_index", ("safeguarding_nightly", "score_shard")).fetchall()
    runs: dict[str, list[tuple[int, str]]] = {}
    for run_id, map_index, state in rows:
        runs.setdefault(str(run_id), []).append((int(map_index), str(state)))
    return runs


def test_mapped_shards_ran_and_the_cli_gives_the_same_outputs(deployment: dict[str, Any], postgres_dbs: dict[str, str],
                                                               mailbox: tuple[Mailbox, int]) -> None:
    """Runs after the nightly test (module order): its runs scored several mapped shards; ``safelink run`` in one
    process on the same deployment gives the same files."""
    import polars as pl

    box, _ = mailbox
    env, night_dir = deployment["env"], deployment["output"] / EXTRACT.isoformat()
    if not (night_dir / "_COMPLETE").exists():
        pytest.skip("needs the nightly run of this module first")
    plan = json.loads((night_dir / "linkage" / "shards" / "plan.json").read_text(encoding="utf-8"))
    assert plan["shards"] == -(-plan["pairs"] // PAIRS_PER_SHARD) >= 2
    summary = json.loads((night_dir / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["stages"]["link_score"] == {"shards": plan["shards"], "pairs": plan["pairs"]}
    assert summary["stages"]["link_block"]["shards"] == list(range(plan["shards"]))
    runs = _score_shard_instances(postgres_dbs)
    assert runs and all(tis == [(k, "success") for k in range(plan["shards"])] for tis in runs.values()), runs
    dag_files = {n: (night_dir / n).read_bytes() for n in ("person_links.csv", "findings.csv")}
    dag_pairs = pl.read_parquet(night_dir / "linkage" / "pairs.parquet")
    sent = len(box.messages)

    cli = subprocess.run([sys.executable, "-m", "safelink.cli", "run", "--landing", str(deployment["landing"]),
                          "--date", EXTRACT.isoformat(), "--output", str(deployment["output"]),
                          "--config", env["SAFELINK_CONFIG"], "--shards", "1"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr[-2000:]

    assert {n: (night_dir / n).read_bytes() for n in dag_files} == dag_files
    assert pl.read_parquet(night_dir / "linkage" / "pairs.parquet").equals(dag_pairs)
    cli_link = json.loads((night_dir / "run_summary.json").read_text(encoding="utf-8"))["stages"]["link"]
    assert (cli_link["shards"], cli_link["pairs_scored"]) == (plan["shards"], plan["pairs"])  # in one process
    assert len(box.messages) == sent  # the ledger: nothing sent twice


def test_digests_due_check_passes_a_sent_night_and_mails_engineers_for_a_missing_one(
        deployment: dict[str, Any], mailbox: tuple[Mailbox, int]) -> None:
    """The 07:00 check: the night above sent everything; a night that never ran fails the check and is mailed."""
    box, _ = mailbox
    if not (deployment["output"] / EXTRACT.isoformat() / "_COMPLETE").exists():
        pytest.skip("needs the nightly run of this module first")
    env = deployment["env"]
    before = len(box.messages)
    _airflow(env, "dags", "test", "safeguarding_digests_due", EXTRACT.isoformat())
    assert len(box.messages) == before  # nothing late, nobody mailed

    missing = EXTRACT + dt.timedelta(days=5)
    _airflow(env, "dags", "test", "safeguarding_digests_due", missing.isoformat(), check=False)
    notices = [m for m in box.messages[before:] if "failure" in str(m["Subject"]).lower()]
    assert len(notices) == 1, [str(m["Subject"]) for m in box.messages[before:]]
    assert deployment["data_engineering"] in notices[0]["X-Envelope-To"]
    body = notices[0].get_payload(decode=True).decode("utf-8") if not notices[0].is_multipart() else str(notices[0])
    assert "check_digests_sent" in body and missing.isoformat() in body
    # the extract date is not person data: the failure mail shows it (#15 row 17)
    assert (f"DigestsLate: digests for {missing.isoformat()} not sent by 07:00: the night never reached the send "
            "stage") in body


def test_failed_task_mails_data_engineering(deployment: dict[str, Any], mailbox: tuple[Mailbox, int]) -> None:
    """No drop for the date: the wait times out (soft), the drop check fails, the callback mails engineers."""
    box, _ = mailbox
    empty = deployment["base"] / "empty-landing"
    empty.mkdir()
    env = {**deployment["env"], "SAFELINK_LANDING": str(empty), "SAFELINK_WAIT_TIMEOUT_S": "3"}
    before = len(box.messages)

    result = _dags_test(env, EXTRACT + dt.timedelta(days=1), check=False)

    assert result.returncode != 0 or "failed" in (result.stdout + result.stderr).lower()
    new = box.messages[before:]
    failure = [m for m in new if "failure" in str(m["Subject"]).lower()]
    assert failure, [str(m["Subject"]) for m in new]
    notice = failure[0]
    assert deployment["data_engineering"] in notice["X-Envelope-To"]
    body = notice.get_payload(decode=True).decode("utf-8") if not notice.is_multipart() else str(notice)
    assert "check_drop" in body
    assert (EXTRACT + dt.timedelta(days=1)).isoformat() in body
    assert "DropIncomplete" in body
    assert "/dags/safeguarding_nightly/runs/" in body  # the log link
    # no person data: only the DAG, task, date, error and link
    assert len([m for m in new if m not in failure]) == 0


def test_retrain_writes_a_new_candidate_and_leaves_the_reviewed_model(deployment: dict[str, Any]) -> None:
    """Runs after the nightly test (module order): trains on its night's people table."""
    output = deployment["output"]
    if not (output / EXTRACT.isoformat() / "landing" / "people.parquet").exists():
        pytest.skip("needs the nightly run of this module first")
    reviewed = Path(deployment["env"]["SAFELINK_CONFIG"]) / "linkage_model.json"
    before = reviewed.read_bytes() if reviewed.exists() else None

    _airflow(deployment["env"], "dags", "test", "safeguarding_retrain")

    candidates = sorted((output / "models").glob("linkage_model_*Z.json"))
    assert len(candidates) == 1 and candidates[0].stat().st_size > 0
    assert (reviewed.read_bytes() if reviewed.exists() else None) == before


def test_broken_configuration_fails_check_drop_at_once_and_opens_no_night(deployment: dict[str, Any],
                                                                          mailbox: tuple[Mailbox, int]) -> None:
    """A broken sharing.yaml: check_drop fails before the night's folder exists, without retrying."""
    box, _ = mailbox
    config = deployment["base"] / "broken-config"
    shutil.copytree(deployment["config"], config)
    sharing = config / "sharing.yaml"
    sharing.write_text(sharing.read_text(encoding="utf-8").replace("  cumulative_concern:", "  cumulative_concrn:", 1),
                       encoding="utf-8")
    date = EXTRACT + dt.timedelta(days=2)
    env = {**deployment["env"], "SAFELINK_CONFIG": str(config), "SAFELINK_RETRIES": "3",
           "SAFELINK_RETRY_DELAY_S": "1", "SAFELINK_WAIT_TIMEOUT_S": "2"}
    before = len(box.messages)

    _dags_test(env, date, check=False)

    assert not (deployment["output"] / date.isoformat()).exists()
    import psycopg

    with psycopg.connect(_pg_url(deployment["metadata"], "postgresql"), autocommit=True) as conn:
        tries = conn.execute(
            "SELECT ti.try_number, ti.state FROM task_instance ti JOIN dag_run r ON r.dag_id = ti.dag_id AND "
            "r.run_id = ti.run_id WHERE ti.task_id = 'check_drop' AND r.logical_date::date = %s", (date,)).fetchall()
    assert tries == [(1, "failed")]  # failed on its first try although it may retry three times
    notices = [m for m in box.messages[before:] if "failure" in str(m["Subject"]).lower()]
    assert len(notices) == 1, [str(m["Subject"]) for m in box.messages[before:]]  # one failure, not one per retry
    body = notices[0].get_payload(decode=True).decode("utf-8") if not notices[0].is_multipart() else str(notices[0])
    assert "check_drop" in body and "AirflowFailException" in body and "sharing.yaml" in body
