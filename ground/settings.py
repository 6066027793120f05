"""Deployment settings from the environment (pydantic-settings), validated on load."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"


class Settings(BaseSettings):
    """Settings read from ``SAFELINK_*`` environment variables.

    ``state_url`` empty means the embedded default: ``<output>/state.sqlite``. ``case_view_url`` empty means
    digests carry reply instructions instead of a case-view address per finding.
    """

    model_config = SettingsConfigDict(env_prefix="SAFELINK_", extra="ignore")

    state_url: str = ""
    config: Path = DEFAULT_CONFIG_DIR
    landing: Path | None = None
    output: Path | None = None
    lock_wait_s: float = Field(default=300.0, ge=0)  # how long a second run waits for the first
    file_group: str = ""  # a group that may read the outputs (team share); empty: owner only
    # The case view's public base URL (issue #17), e.g. https://case-view.example.nhs.uk: digests link each
    # finding to <case_view_url>/findings/<finding_id> (empty: reply instructions instead); an https:// URL
    # also marks the case view's session cookie Secure.
    case_view_url: str = ""
    # StatsD for the night's counts (safelink/metrics.py); empty host: none sent. Under Airflow, Airflow's own
    # [metrics] StatsD settings are used when this is empty.
    statsd_host: str = ""
    statsd_port: int = Field(default=8125, ge=1, le=65535)
    statsd_prefix: str = ""
    # Compute every night in full: read and keep nothing from earlier nights (<output>/night_memo,
    # <output>/linkage_cache); the same as `safelink run --full` on every run.
    full_night: bool = False


def load_settings() -> Settings:
    """Read the settings from the environment."""
    return Settings()
