"""The alerts ledger, on SQLite and PostgreSQL alike: sent once, updated once, "no longer found" once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import retry_outbox, send_digests
from alerts.smtp import SmtpSettings
from alerts.state_tables import AlertAudit, AlertFinding, AlertLeadFinding, AlertMessage, AlertNight
from ground.state import open_state
from tests import test_alerts_helpers as helpers
from tests.test_alerts_helpers import NIGHT1, NIGHT2, NIGHT3, base_findings, finding, write_night

config_dir = helpers.config_dir

NO_SMTP = SmtpSettings(host="")


def _run(out: Path, night: dt.date, findings: list[dict], config: Path, url: str):  # type: ignore[no-untyped-def]
    return send_digests(write_night(out, night, findings), config, url, night, smtp=NO_SMTP)


def _changes(url: str, night: dt.date, lead: str) -> dict[str, str]:
    engine = open_state(url)
    with Session(engine) as session:
        rows = session.scalars(select(AlertAudit).where(AlertAudit.night == night, AlertAudit.recipient_key == lead,
                                                        AlertAudit.event == "queued"))
        found = {r.finding_id: r.change for r in rows if r.finding_id}
    engine.dispose()
    return found  # type: ignore[return-value]


def test_unchanged_not_resent_changed_once_gone_once(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    out = tmp_path / "out"
    first = _run(out, NIGHT1, base_findings(), config_dir, state_url)
    assert first.new == 4 and first.digests_built == 7
    assert _changes(state_url, NIGHT1, "hv_chester") == {"F-RNA-1": "new", "F-SA-1": "new"}

    # night 2: F-RNA-1 changed, F-UI-1 gone, the rest unchanged
    findings = base_findings()
    findings[0]["evidence_fingerprint"] = "fp2"
    second = _run(out, NIGHT2, [f for f in findings if f["finding_id"] != "F-UI-1"], config_dir, state_url)
    assert (second.new, second.updated, second.no_longer_found) == (0, 1, 1)
    assert _changes(state_url, NIGHT2, "hv_chester") == {"F-RNA-1": "updated"}
    assert _changes(state_url, NIGHT2, "gp_vale_royal") == {"F-RNA-1": "updated"}
    assert _changes(state_url, NIGHT2, "sn_vale_royal") == {"F-UI-1": "no_longer_found"}
    assert _changes(state_url, NIGHT2, "tp") == {}

    # night 3: same as night 2 → nothing for any lead, only the designated summary
    third = _run(out, NIGHT3, [f for f in findings if f["finding_id"] != "F-UI-1"], config_dir, state_url)
    assert third.digests_built == 0 and third.written == 1
    assert sorted(p.name for p in (out / NIGHT3.isoformat() / "outbox").iterdir()) == ["designated_2026-11-27.eml"]

    engine = open_state(state_url)
    with Session(engine) as session:
        ledger = session.get_one(AlertFinding, "F-UI-1")
        assert not ledger.present and ledger.gone_night == NIGHT2 and ledger.last_seen == NIGHT1
        rna = session.get_one(AlertFinding, "F-RNA-1")
        assert rna.first_seen == NIGHT1 and rna.last_seen == NIGHT3 and rna.present
        told = session.get_one(AlertLeadFinding, ("sn_vale_royal", "F-UI-1"))
        assert told.closed and told.closed_night == NIGHT2
        assert [n.night for n in session.scalars(select(AlertNight).order_by(AlertNight.night))] == [
            NIGHT1, NIGHT2, NIGHT3]
    engine.dispose()


def test_rerun_same_night_is_idempotent(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    out = tmp_path / "out"
    first = _run(out, NIGHT1, base_findings(), config_dir, state_url)
    again = _run(out, NIGHT1, base_findings(), config_dir, state_url)
    assert first.written == 8 and again.written == 0 and again.already_built == 1
    assert retry_outbox(out, config_dir, state_url, smtp=NO_SMTP).written == 0
    engine = open_state(state_url)
    with Session(engine) as session:
        assert len(session.scalars(select(AlertMessage)).all()) == 8
        assert len(session.scalars(select(AlertAudit).where(AlertAudit.event == "written")).all()) == 8
    engine.dispose()


def test_reappearing_finding_is_new_again(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    out = tmp_path / "out"
    one = [finding("F-X", "repeated_non_attendance", ["hv:team:Chester Central HV"], child=["hv:104500"])]
    _run(out, NIGHT1, one, config_dir, state_url)
    _run(out, NIGHT2, [], config_dir, state_url)
    _run(out, NIGHT3, one, config_dir, state_url)
    assert _changes(state_url, NIGHT2, "hv_chester") == {"F-X": "no_longer_found"}
    assert _changes(state_url, NIGHT3, "hv_chester") == {"F-X": "new"}


def test_rerouted_finding_reported_as_moved(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    out = tmp_path / "out"
    _run(out, NIGHT1, [finding("F-M", "unshared_involvement", ["hv:team:Chester Central HV"], child=["hv:104500"])],
         config_dir, state_url)
    _run(out, NIGHT2, [finding("F-M", "unshared_involvement", ["sn:team:Vale Royal SN"], child=["hv:104500"])],
         config_dir, state_url)
    assert _changes(state_url, NIGHT2, "hv_chester") == {"F-M": "moved"}
    assert _changes(state_url, NIGHT2, "sn_vale_royal") == {"F-M": "new"}


def test_older_night_after_newer_is_not_built(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    out = tmp_path / "out"
    _run(out, NIGHT2, base_findings(), config_dir, state_url)
    stale = _run(out, NIGHT1, [], config_dir, state_url)
    assert stale.stale_night == 1 and stale.digests_built == 0 and stale.no_longer_found == 0


def test_audit_is_append_only(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    _run(tmp_path / "out", NIGHT1, base_findings(), config_dir, state_url)
    engine = open_state(state_url)
    with Session(engine) as session:
        entry = session.scalars(select(AlertAudit)).first()
        assert entry is not None
        entry.reason = "rewritten"
        with pytest.raises(RuntimeError, match="append-only"):
            session.flush()
        session.rollback()
        with pytest.raises(RuntimeError, match="append-only"):
            session.delete(session.scalars(select(AlertAudit)).first())
            session.flush()
    engine.dispose()


def test_needs_confirmation_change_is_an_update(tmp_path: Path, config_dir: Path, state_url: str) -> None:
    out = tmp_path / "out"
    f = finding("F-C", "significant_adult", ["tp:team:Chantelle Reid"], child=["hv:104500"], adult=["tp:TP17808"],
                needs_confirmation=True)
    _run(out, NIGHT1, [f], config_dir, state_url)
    _run(out, NIGHT2, [{**f, "needs_confirmation": False}], config_dir, state_url)
    assert _changes(state_url, NIGHT2, "tp") == {"F-C": "updated"}
