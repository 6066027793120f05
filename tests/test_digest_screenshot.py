"""The HTML digest rendered by headless Chromium: it draws something real and loads nothing from the network."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from alerts import send_digests
from alerts.smtp import SmtpSettings
from tests import test_alerts_helpers as helpers
from tests.test_alerts_helpers import NIGHT1, base_findings, write_night

config_dir = helpers.config_dir
sqlite_url = helpers.sqlite_url

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _digest_html(tmp_path: Path, config: Path, url: str) -> str:
    night_dir = write_night(tmp_path / "out", NIGHT1, base_findings())
    send_digests(night_dir, config, url, NIGHT1, smtp=SmtpSettings(host=""))
    raw = (night_dir / "outbox" / "hv_chester_2026-11-25.eml").read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_html_references_no_network(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    html = _digest_html(tmp_path, config_dir, sqlite_url)
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=", html, re.IGNORECASE)
    assert "@import" not in html and "url(" not in html


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_html_digest_screenshot(tmp_path: Path, config_dir: Path, sqlite_url: str) -> None:
    html_path = tmp_path / "digest.html"
    html_path.write_text(_digest_html(tmp_path, config_dir, sqlite_url), encoding="utf-8")
    png = tmp_path / "digest.png"
    assert CHROMIUM is not None
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
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1_000_000) or []
        assert len(colours) > 50  # text, tags, borders: not a blank page
        # the NHS-blue header bar and the white sheet are both there
        pixels = {colour for _, colour in colours}
        assert (255, 255, 255) in pixels
        assert any(abs(r - 0) < 20 and abs(g - 94) < 20 and abs(b - 184) < 20 for r, g, b in pixels)
