"""The HTML parts rendered by headless Chromium: they draw something real and load nothing from the network."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from alerts import send_digests
from alerts.compose import open_entry, render_digest
from alerts.smtp import SmtpSettings
from tests import test_alerts_helpers as helpers
from tests.helpers.digest_fixtures import NIGHT, findings, need_to_know
from tests.helpers.mail import read_eml
from tests.test_alerts_helpers import NIGHT1, base_findings, write_night

config_dir = helpers.config_dir
sqlite_url = helpers.sqlite_url

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NHS_BLUE = (0, 94, 184)
WARNING_BACKGROUND = (255, 249, 230)


def _digest_html(tmp_path: Path) -> str:
    """A school nurse's digest: a significant adult and an unshared involvement finding."""
    ntk = need_to_know(tmp_path / "config")
    reader = ntk.recipient("sn")
    entries = []
    for finding in (findings()["significant_adult"][0], findings()["unshared_involvement"][0]):
        view = ntk.view(finding, reader, ntk.recipients_of(finding))
        entries.append(open_entry(view, "new", NIGHT, None, ntk, reader, False))
    return render_digest(NIGHT, reader, entries, ntk)[2]


def _summary_html(tmp_path: Path, config: Path, url: str) -> str:
    """The designated summary of a night whose drop was incomplete."""
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    (night_dir / "landing" / "drop.json").write_text(json.dumps(
        {"complete_drop": False, "sources_present": ["hv"], "sources_missing": ["gp"], "sources_failed": []}))
    send_digests(night_dir, config, url, NIGHT1, smtp=SmtpSettings(host=""))
    return read_eml(night_dir / "outbox" / "designated_2026-11-25.eml")[2]


def test_html_references_no_network(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    send_digests(night_dir, config_dir, sqlite_url, NIGHT1, smtp=SmtpSettings(host=""))
    for eml in (night_dir / "outbox").glob("*.eml"):
        html = read_eml(eml)[2]
        assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE)
        assert not re.search(r"\b(src|href)\s*=", html, re.IGNORECASE)
        assert "@import" not in html and "url(" not in html


def _screenshot(tmp_path: Path, html: str, name: str) -> set[tuple[int, int, int]]:
    assert CHROMIUM is not None
    html_path = tmp_path / f"{name}.html"
    html_path.write_text(html, encoding="utf-8")
    png = tmp_path / f"{name}.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={png}", "--window-size=1000,1400", html_path.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert png.exists() and png.stat().st_size > 10_000
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(png) as image:
        assert image.size == (1000, 1400)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 50  # text, tags, borders: not a blank page
    return {colour for _, colour in colours}


def _near(pixels: set[tuple[int, int, int]], colour: tuple[int, int, int]) -> bool:
    return any(all(abs(a - b) < 20 for a, b in zip(p, colour, strict=True)) for p in pixels)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_html_digest_screenshot(tmp_path: Path) -> None:
    pixels = _screenshot(tmp_path, _digest_html(tmp_path), "digest")
    # the NHS-blue header bar, the white sheet and the grey service blocks are all drawn
    assert (255, 255, 255) in pixels and _near(pixels, NHS_BLUE) and _near(pixels, (240, 244, 245))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_html_summary_screenshot_shows_the_warning(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    pixels = _screenshot(tmp_path, _summary_html(tmp_path, config_dir, sqlite_url), "summary")
    assert (255, 255, 255) in pixels and _near(pixels, WARNING_BACKGROUND)
