"""Demo path: no SMTP host → one .eml per lead with findings in the night's outbox; reruns add none."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from alerts import send_digests, send_failure_notice
from alerts.leads import load_leads
from alerts.smtp import SmtpSettings
from tests import test_alerts_helpers as helpers
from tests.helpers.config import config_folder
from tests.test_alerts_helpers import NIGHT1, TEST_DOMAIN, base_findings, write_night

config_dir = helpers.config_dir
sqlite_url = helpers.sqlite_url

ROOT = Path(__file__).resolve().parent.parent
NO_SMTP = SmtpSettings(host="")


def test_demo_outbox_one_eml_per_lead_and_rerun_adds_none(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    result = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=NO_SMTP)
    outbox = night_dir / "outbox"
    files = sorted(p.name for p in outbox.iterdir())
    # hv_chester (2), hv_catch_all (unknown team), sn_vale_royal, camhs, gp_vale_royal, tp, amh + designated summary
    assert files == sorted(f"{key}_2026-11-25.eml" for key in (
        "hv_chester", "hv_catch_all", "sn_vale_royal", "camhs", "gp_vale_royal", "tp", "amh", "designated"))
    assert result.written == 8 and result.digests_built == 7 and result.findings == 4 and result.unrouted == 0
    assert result.new == 4 and result.still_queued == 0

    again = send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=NO_SMTP)
    assert again.already_built == 1 and again.written == 0 and again.digests_built == 0
    assert len(list(outbox.iterdir())) == 8

    msg = email.message_from_bytes((outbox / "hv_chester_2026-11-25.eml").read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Safeguarding linkage digest 2026-11-25: 2 new, 0 updated"
    assert msg["To"] == f"hv-chester@{TEST_DOMAIN}"


def test_shipped_config_demo_path_writes_files(tmp_path: Path, sqlite_url: str) -> None:
    config = config_folder(tmp_path / "config", "leads.yaml", "sharing.yaml")
    findings = base_findings()
    night_dir = write_night(tmp_path / "out", NIGHT1, findings)
    result = send_digests(night_dir, config, sqlite_url, NIGHT1, smtp=NO_SMTP)
    names = {p.name for p in (night_dir / "outbox").iterdir()}
    assert "hv_chester_2026-11-25.eml" in names and "hv_catch_all_2026-11-25.eml" in names
    assert "designated_2026-11-25.eml" in names
    assert result.unrouted == 0


def test_demo_addresses_refused_with_smtp(tmp_path: Path, sqlite_url: str) -> None:
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    with pytest.raises(ValueError, match="demo_addresses"):
        send_digests(night_dir, ROOT / "config", sqlite_url, NIGHT1, smtp=SmtpSettings(host="127.0.0.1", port=1))


def test_missing_findings_is_an_error_not_everything_gone(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    night_dir = tmp_path / "out" / NIGHT1.isoformat()
    night_dir.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"findings\.parquet"):
        send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=NO_SMTP)


def test_failure_notice_written_without_smtp(tmp_path: Path, config_dir: Path) -> None:
    send_failure_notice(config_dir, "safelink_nightly", "link", "2026-11-25",
                        "ValueError: bad row for NHS 943 476 5919 born 03/01/2015 at CH1 4BJ",
                        "http://airflow.local/log/1", smtp=NO_SMTP, output_dir=tmp_path)
    files = list((tmp_path / "outbox").iterdir())
    assert len(files) == 1 and files[0].name.startswith("failure_2026-11-25_")
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    body = msg.get_content()
    assert msg["To"] == load_leads(config_dir).data_engineering.email
    assert "safelink_nightly" in body and "link" in body and "http://airflow.local/log/1" in body
    assert "943 476 5919" not in body and "03/01/2015" not in body and "CH1 4BJ" not in body
