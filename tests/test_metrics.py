"""The night's counts as StatsD metrics, received by a real UDP socket (issue #15 row 14)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ground.exit_codes import EXIT_OK
from safelink.metrics import StatsdTarget, emit_night_metrics
from tests.conftest import SAMPLE_LANDING
from tests.test_cli_errors import DATE, safelink

STAGES = {
    "wait": {"complete_drop": False},
    "combine": {"conservation": {"hv": {"rows_read": 120, "accepted": 110, "quarantined": 7, "duplicates": 3},
                                 "gp": {"rows_read": 80, "accepted": 80, "quarantined": 0, "duplicates": 0}},
                "quarantined": 7, "sources_missing": ["tp"], "sources_failed": ["amh", "sn"],
                "complete_drop": False},
    "link": {"records": 150, "persons": 90, "links": 61, "review_pairs": 4, "merges": 1, "splits": 0,
             "model_version": "v1"},
    "detect": {"findings": 9, "needs_confirmation": 2},
    "send": {"sent": 5, "written": 0, "still_queued": 3, "last_error": "connection refused"},
}


class StatsdListener:
    """A UDP socket standing in for the StatsD daemon: what arrived, line by line."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # room for everything a run sends before it is read (Airflow's own metrics arrive too)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = int(self.sock.getsockname()[1])

    def lines(self, wait_s: float = 5.0) -> list[str]:
        """Every metric line received until the socket stays quiet for a moment."""
        out: list[str] = []
        self.sock.settimeout(wait_s)
        while True:
            try:
                packet, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                return out
            out += [line for line in packet.decode("ascii").split("\n") if line]
            self.sock.settimeout(0.5)

    def gauges(self, prefix: str) -> dict[str, int]:
        """The gauges received under ``prefix`` (without it)."""
        return {name[len(prefix):]: int(value.split("|")[0]) for name, _, value in
                (line.partition(":") for line in self.lines()) if name.startswith(prefix) and value.endswith("|g")}


@pytest.fixture
def listener() -> Iterator[StatsdListener]:
    found = StatsdListener()
    try:
        yield found
    finally:
        found.sock.close()


def test_the_night_counts_reach_a_statsd_server_as_gauges_and_timers(listener: StatsdListener) -> None:
    sent = emit_night_metrics(STAGES, {"link": 2.5, "detect": 0.125}, StatsdTarget("127.0.0.1", listener.port,
                                                                                    "airflow"))
    lines = sorted(listener.lines())
    assert lines == sorted([
        "airflow.safelink.night.source.gp.rows_read:80|g", "airflow.safelink.night.source.gp.set_aside:0|g",
        "airflow.safelink.night.source.hv.rows_read:120|g", "airflow.safelink.night.source.hv.set_aside:7|g",
        "airflow.safelink.night.rows_read:200|g", "airflow.safelink.night.set_aside:7|g",
        "airflow.safelink.night.duplicates:3|g", "airflow.safelink.night.sources_missing:1|g",
        "airflow.safelink.night.sources_failed:2|g", "airflow.safelink.night.complete_drop:0|g",
        "airflow.safelink.night.records:150|g", "airflow.safelink.night.persons:90|g",
        "airflow.safelink.night.links:61|g", "airflow.safelink.night.review_pairs:4|g",
        "airflow.safelink.night.merges:1|g", "airflow.safelink.night.splits:0|g",
        "airflow.safelink.night.findings:9|g", "airflow.safelink.night.needs_confirmation:2|g",
        "airflow.safelink.night.undelivered:3|g", "airflow.safelink.night.messages_sent:5|g",
        "airflow.safelink.night.duration.link:2500.000000|ms", "airflow.safelink.night.duration.detect:125.000000|ms",
    ])
    assert sent["undelivered"] == 3 and sent["rows_read"] == 200 and len(sent) == 20


def test_an_unknown_statsd_host_is_logged_and_the_night_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    assert emit_night_metrics(STAGES, {}, StatsdTarget("statsd.invalid", 8125)) == {}
    assert any(r.getMessage() == "metrics not sent" for r in caplog.records)


def test_publish_uses_airflows_own_metrics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_dag import DAGS

    monkeypatch.syspath_prepend(str(DAGS))
    import safelink_dag_support as support

    for name in ("SAFELINK_STATSD_HOST", "SAFELINK_STATSD_PORT", "SAFELINK_STATSD_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "False")
    assert support.metrics_target() is None
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "statsd.internal")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", "9125")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "prod_airflow")
    assert support.metrics_target() == StatsdTarget("statsd.internal", 9125, "prod_airflow")
    monkeypatch.setenv("SAFELINK_STATSD_HOST", "other.internal")  # the deployment's own setting wins
    assert support.metrics_target() == StatsdTarget("other.internal", 8125, None)


@pytest.mark.slow
def test_safelink_run_sends_the_nights_counts_when_a_statsd_host_is_set(tmp_path: Path,
                                                                          listener: StatsdListener) -> None:
    done = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", tmp_path / "out",
                    env={"SAFELINK_STATSD_HOST": "127.0.0.1", "SAFELINK_STATSD_PORT": str(listener.port),
                         "SAFELINK_STATSD_PREFIX": "nightly"})
    assert done.returncode == EXIT_OK, done.stderr
    gauges = listener.gauges("nightly.safelink.night.")
    stages = json.loads((tmp_path / "out" / DATE / "run_summary.json").read_text(encoding="utf-8"))["stages"]
    conservation = stages["combine"]["conservation"]
    assert gauges["rows_read"] == sum(row["rows_read"] for row in conservation.values()) > 0
    assert gauges["set_aside"] == stages["combine"]["quarantined"] == stages["report"]["quarantined"]
    assert gauges["links"] == stages["link"]["links"] == stages["report"]["links"] > 0
    assert gauges["review_pairs"] == stages["link"]["review_pairs"] == stages["report"]["review_pairs"]
    assert gauges["findings"] == stages["detect"]["findings"] == stages["report"]["findings"] > 0
    assert gauges["undelivered"] == stages["send"]["still_queued"] == 0
    assert gauges["complete_drop"] == 1
    assert {f"source.{s}.rows_read" for s in conservation} <= set(gauges)


@pytest.mark.slow
def test_undelivered_is_sent_again_after_a_retry_delivers(tmp_path: Path, listener: StatsdListener) -> None:
    from ground.exit_codes import EXIT_UNDELIVERED
    from tests.test_alerts_helpers import free_port, start_server
    from tests.test_cli_errors import config_copy

    config = config_copy(tmp_path)
    leads = config / "leads.yaml"
    leads.write_text(leads.read_text(encoding="utf-8").replace("demo_addresses: true", "demo_addresses: false"),
                     encoding="utf-8")
    port = free_port()  # the mail server is down for the night
    env = {"SAFELINK_SMTP_HOST": "127.0.0.1", "SAFELINK_SMTP_PORT": str(port), "SAFELINK_SMTP_SECURITY": "none",
           "SAFELINK_SMTP_FROM": "safelink@nhs.net", "SAFELINK_SMTP_TIMEOUT": "5",
           "SAFELINK_STATSD_HOST": "127.0.0.1", "SAFELINK_STATSD_PORT": str(listener.port)}
    out = tmp_path / "out"
    night = safelink("run", "--landing", SAMPLE_LANDING, "--date", DATE, "--output", out, "--config", config, env=env)
    assert night.returncode == EXIT_UNDELIVERED
    queued = json.loads((out / DATE / "run_summary.json").read_text(encoding="utf-8"))["stages"]["send"]["still_queued"]
    assert listener.gauges("safelink.night.")["undelivered"] == queued > 0

    server = start_server(port)  # back up: the retry delivers everything
    try:
        retried = safelink("retry", "--output", out, "--config", config, env=env)
    finally:
        server.controller.stop()
    assert retried.returncode == EXIT_OK, retried.stderr
    assert listener.gauges("safelink.night.") == {"undelivered": 0}
