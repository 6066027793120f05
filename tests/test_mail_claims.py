"""A crash between claiming a message and recording it (issue #15 row 9), against a real SMTP server.

A real ``safelink run`` process is killed (SIGKILL) right after the aiosmtpd server accepted its first
message and before the ledger recorded it. The message stays claimed; ``safelink retry`` leaves it alone
while the claim is younger than ``SAFELINK_SMTP_CLAIM_TIMEOUT``, then reports it as a stuck claim and sends
it again with the same Message-ID (the documented guarantee: at least once, a duplicate only after such a
crash, and then with the same Message-ID so the receiving side can drop it).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ground.exit_codes import EXIT_OK, EXIT_UNDELIVERED
from tests.conftest import ROOT, SAMPLE_LANDING
from tests.test_alerts_helpers import start_server
from tests.test_cli_errors import DATE, config_copy, safelink

CLAIM_TIMEOUT_S = 30  # three times the SMTP timeout below (the shortest the settings accept); room for a slow CI


def _messages(state: Path) -> dict[str, tuple[str, dt.datetime | None]]:
    """Each message's Message-ID → (status, claimed_at) in the state database."""
    engine = create_engine(f"sqlite:///{state}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT message_id, status, claimed_at FROM alerts_message")).all()
    finally:
        engine.dispose()
    return {str(mid): (str(status), None if claimed is None else dt.datetime.fromisoformat(str(claimed)))
            for mid, status, claimed in rows}


@pytest.mark.slow
def test_kill_9_after_the_server_accepted_resends_with_the_same_message_id_once_the_claim_expires(
        tmp_path: Path) -> None:
    config = config_copy(tmp_path)
    leads = config / "leads.yaml"
    leads.write_text(leads.read_text(encoding="utf-8").replace("demo_addresses: true", "demo_addresses: false"),
                     encoding="utf-8")
    server = start_server()
    out = tmp_path / "out"
    env = {"SAFELINK_SMTP_HOST": "127.0.0.1", "SAFELINK_SMTP_PORT": str(server.port),
           "SAFELINK_SMTP_SECURITY": "none", "SAFELINK_SMTP_FROM": "safelink@nhs.net",
           "SAFELINK_SMTP_TIMEOUT": str(CLAIM_TIMEOUT_S // 3), "SAFELINK_SMTP_CLAIM_TIMEOUT": str(CLAIM_TIMEOUT_S)}
    try:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFELINK_")}
        died = subprocess.run(
            [sys.executable, "-m", "tests.helpers.die_after_send", "run", "--landing", str(SAMPLE_LANDING),
             "--date", DATE, "--output", str(out), "--config", str(config), "--no-progress"],
            env=clean | {"PYTHONPATH": str(ROOT)} | env, capture_output=True, text=True, timeout=600, check=False)
        assert died.returncode == -signal.SIGKILL, died.stderr

        # the server took one message; the ledger still holds it as claimed, the others as queued
        assert len(server.handler.messages) == 1
        first = str(server.handler.messages[0]["Message-ID"])
        ledger = _messages(out / "state.sqlite")
        assert ledger[first][0] == "sending" and ledger[first][1] is not None
        others = {mid for mid, (status, _) in ledger.items() if mid != first}
        assert others and {ledger[mid][0] for mid in others} == {"queued"}
        assert not (out / DATE / "_COMPLETE").exists()  # the killed night reads as incomplete

        # within the claim: the other messages go, the claimed one is left to the run that claimed it
        soon = safelink("retry", "--output", out, "--config", config, env=env)
        claimed_at = ledger[first][1]
        assert claimed_at is not None
        assert soon.returncode == EXIT_UNDELIVERED, soon.stderr
        left = "1 message(s) claimed by another run less than SAFELINK_SMTP_CLAIM_TIMEOUT ago: left to it"
        assert left in soon.stderr
        assert "stuck claims 0, still queued 1" in soon.stderr
        assert ("warning: 1 message(s) still queued (claimed by another run): run `safelink retry` again after the "
                "claim expires") in soon.stderr
        delivered = [str(m["Message-ID"]) for m in server.handler.messages]
        assert Counter(delivered) == Counter([first, *others])  # each other message exactly once

        # after the claim expires: reported as stuck and sent again, with the same Message-ID
        expires = claimed_at.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=CLAIM_TIMEOUT_S + 1)
        time.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()))
        later = safelink("retry", "--output", out, "--config", config, env=env)
        assert later.returncode == EXIT_OK, later.stderr
        assert ("warning: 1 message(s) had been claimed by a run that stopped before recording the result: sent "
                "again now (one may arrive twice, with the same Message-ID)") in later.stderr
        assert "sent 1, written 0, failed 0, refused 0, stuck claims 1, still queued 0" in later.stderr
        delivered = [str(m["Message-ID"]) for m in server.handler.messages]
        assert Counter(delivered) == Counter([first, first, *others])
        copies = [m for m in server.handler.messages if str(m["Message-ID"]) == first]
        assert copies[0].as_bytes() == copies[1].as_bytes()  # the very same message, stored once, sent twice
        assert {status for status, _ in _messages(out / "state.sqlite").values()} == {"sent"}

        again = safelink("retry", "--output", out, "--config", config, env=env)  # nothing left: nothing sent
        assert again.returncode == EXIT_OK
        assert len(server.handler.messages) == len(delivered)
    finally:
        server.controller.stop()
