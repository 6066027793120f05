"""Structured logging, and a whole night's run that logs no name and no NHS number."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from ground.logs import MASK, configure_logging, install_redaction, redact
from tests.helpers.sample import generated_drop

ROOT = Path(__file__).resolve().parent.parent
EXTRACT = dt.date(2026, 11, 25)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
        for h in handlers:
            h.filters = [f for f in h.filters if type(f).__name__ != "RedactFilter"]
        root.setLevel(level)
        logging.captureWarnings(False)


@pytest.mark.parametrize("text", ["nhs 9434765919 x", "nhs 943 476 5919 x", "nhs 943-476-5919 x"])
def test_redact_masks_nhs_number_shapes(text: str) -> None:
    assert redact(text) == f"nhs {MASK} x"


def test_redact_leaves_counts_and_dates() -> None:
    text = "ingest gp: 385 people records, 20261125, 2026-11-25, 12345678901 digits"
    assert redact(text) == text


def test_key_value_format(restore_logging: None) -> None:
    buf = io.StringIO()
    configure_logging(level="INFO", fmt="kv", stream=buf)
    logging.getLogger("safelink.test").info("stage %s done for %s", "link", "9434765919", extra={"people": 12})
    line = buf.getvalue().strip()
    assert re.match(r'^ts=\S+ level=info logger=safelink\.test msg="stage link done for \[nhs-number\]" people=12$',
                    line), line


def test_json_format_is_one_object_per_line(restore_logging: None) -> None:
    buf = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=buf)
    log = logging.getLogger("safelink.test")
    log.info("one", extra={"stage": "wait"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("two")
    first, second = (json.loads(x) for x in buf.getvalue().splitlines() if x.startswith("{"))
    assert first["msg"] == "one" and first["stage"] == "wait" and first["level"] == "info"
    assert second["error"] == "ValueError" and "traceback" in second


def test_configure_is_idempotent(restore_logging: None) -> None:
    before = len(logging.getLogger().handlers)
    configure_logging(stream=io.StringIO())
    configure_logging(stream=io.StringIO())
    assert len(logging.getLogger().handlers) == before + 1


def test_install_redaction_on_foreign_handlers(restore_logging: None) -> None:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    logging.getLogger().addHandler(handler)
    install_redaction()
    install_redaction()
    logging.getLogger("x").warning("number %s", "943 476 5919")
    assert buf.getvalue().strip() == f"number {MASK}"
    assert len(handler.filters) == 1


def _identifiers(night_dir: Path) -> tuple[set[str], set[str]]:
    """Every name and NHS number in tonight's people and mentions tables (read back from the run's output)."""
    names: set[str] = set()
    numbers: set[str] = set()
    for table, name_cols, nhs_cols in (
        ("people", ("forename", "middle_names", "surname", "known_as"), ("nhs_number", "nhs_number_raw")),
        ("mentions", ("forename", "surname"), ("nhs_number",)),
    ):
        frame = pl.read_parquet(night_dir / "landing" / f"{table}.parquet")
        for col in name_cols:
            for value in frame.get_column(col).drop_nulls().to_list():
                names.update(part for part in re.split(r"[\s\-']+", str(value)) if len(part) >= 3)
        for col in nhs_cols:
            numbers.update(v for v in frame.get_column(col).drop_nulls().to_list() if len(str(v)) >= 9)
    return names, numbers


def test_whole_run_logs_no_names_or_nhs_numbers(tmp_path: Path, restore_logging: None,
                                                capfd: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from safelink.pipeline import Night, run_night

    for var in ("SAFELINK_SMTP_HOST", "SAFELINK_STATE_URL", "SAFELINK_SMTP_CONN_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SAFELINK_OUTPUT", str(tmp_path / "output"))
    landing = generated_drop(tmp_path, EXTRACT, 80, 5)
    buf = io.StringIO()
    # no redaction here: the library itself must not log person data
    configure_logging(level="DEBUG", fmt="kv", stream=buf, redact_nhs_numbers=False)
    night = Night(landing=landing, output=tmp_path / "output", extract_date=EXTRACT)

    run_night(night)

    captured = capfd.readouterr()
    text = buf.getvalue() + captured.out + captured.err
    assert "stage link done" in text or "stage=link" in text
    names, numbers = _identifiers(night.night_dir)
    assert len(names) > 50 and len(numbers) > 50
    leaked_numbers = sorted(n for n in numbers if n in re.sub(r"[ -]", "", text))
    assert not leaked_numbers, f"{len(leaked_numbers)} NHS numbers in the logs"
    words = set(re.findall(r"[A-Za-z][A-Za-z]+", text))
    leaked_names = sorted(names & words)
    assert not leaked_names, f"names in the logs: {leaked_names[:20]}"
