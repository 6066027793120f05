"""The designated professionals' summary: per-rule counts, a missing source, an incomplete drop, linkage
figures, drift, undelivered messages and the report's place; never person data."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import send_digests
from alerts.smtp import SmtpSettings
from alerts.state_tables import AlertMessage
from ground.state import open_state
from safelink.pipeline import Night, run_night
from tests.helpers.digest_fixtures import findings, people_frame, write_config
from tests.helpers.mail import read_eml, visible_text
from tests.helpers.sample import CONFIG_DIR, SAMPLE_DATE, SAMPLE_LANDING
from tests.test_alerts_helpers import free_port


def test_summary_reports_a_missing_source_and_an_incomplete_drop(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING / SAMPLE_DATE.isoformat(), landing / SAMPLE_DATE.isoformat())
    for path in (landing / SAMPLE_DATE.isoformat()).glob("GP_*.csv"):
        path.unlink()
    (landing / SAMPLE_DATE.isoformat() / "_SUCCESS").unlink()
    run_night(Night(landing=landing, output=tmp_path / "out", extract_date=SAMPLE_DATE, config_dir=CONFIG_DIR,
                    allow_incomplete=True))
    night_dir = tmp_path / "out" / SAMPLE_DATE.isoformat()
    _, text, html = read_eml(night_dir / "outbox" / f"designated_{SAMPLE_DATE}.eml")
    flat = " ".join(text.split())
    for part in (flat, visible_text(html)):
        assert "Incomplete drop: tonight's extract had no completion marker (_SUCCESS)" in part
        assert "Source missing: GP sent no files tonight. Its findings are held, not closed" in part
        assert "Sources missing GP" in part.replace(":", "") and "Drop complete NO - incomplete" in part.replace(
            ":", "")
        assert f"{night_dir.resolve()}/report.html" in part
        assert "Records tonight" in part and "Pairs waiting for clerical review" in part
        assert "Linkage model" in part and "Drift from the model's data" in part  # linkage/model_check.json
        assert "Reference F" not in part and "***" not in part
    assert "Repeated missed appointments (was not brought)\n    open tonight" in text


def _night(output: Path, night: dt.date) -> Path:
    import polars as pl

    night_dir = output / night.isoformat()
    (night_dir / "landing").mkdir(parents=True, exist_ok=True)
    (night_dir / "linkage").mkdir(parents=True, exist_ok=True)
    rows = [f | {"last_seen": night} for f in findings()["significant_adult"]]
    pl.DataFrame(rows).write_parquet(night_dir / "findings.parquet")
    people_frame().write_parquet(night_dir / "landing" / "people.parquet")
    return night_dir


def test_summary_counts_undelivered_messages_and_shows_drift(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config")
    url, out = f"sqlite:///{tmp_path / 'state.sqlite'}", tmp_path / "out"
    down = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", from_address="safelink@nhs.net",
                        timeout=2, helo_name="localhost")
    first = send_digests(_night(out, dt.date(2026, 11, 25)), config, url, dt.date(2026, 11, 25), smtp=down)
    assert first.sent == 0 and first.still_queued >= 3
    night2 = _night(out, dt.date(2026, 11, 26))
    (night2 / "linkage" / "model_check.json").write_text(json.dumps({
        "model": {"version": "m-20261125", "origin": "fitted on the first night"},
        "drift": {"baseline": True, "psi": {"postcode": 0.31, "surname": 0.02, "dob": 0.08},
                  "links_per_record_change": -0.12, "drifted": ["postcode"], "retrain_advised": True,
                  "advice": "retrain: `safelink train --night <this night>` after review"}}))
    send_digests(night2, config, url, dt.date(2026, 11, 26), smtp=down)
    engine = open_state(url)
    with Session(engine) as session:
        body = session.scalars(select(AlertMessage.body).where(
            AlertMessage.kind == "summary", AlertMessage.night == dt.date(2026, 11, 26))).one()
    engine.dispose()
    flat = " ".join(body.replace("=\r\n", "").split())
    # the server was down: the first message failed, the rest were left for the next run untried
    assert f"{first.still_queued} message(s) from earlier nights are still undelivered " \
           "(1 failed at least once)" in flat
    assert "Linkage model m-20261125 (fitted on the first night)" in flat.replace(":", "")
    assert "Drift from the model's data: YES - postcode" in flat
    assert "Largest shifts (population stability index): postcode 0.31, dob 0.08, surname 0.02" in flat
    assert "Links per record against the model's data: -12.0%" in flat and "Advice: retrain" in flat
    assert "Whether tonight's drop was complete is not known" in flat
