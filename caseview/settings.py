"""The case view's settings (``SAFELINK_CASE_VIEW_*`` and ``SAFELINK_OIDC_*``), validated on load."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = ".caseview_secret"


class CaseViewSettings(BaseSettings):
    """Sessions and sign-in throttling.

    ``secret_key`` empty means the embedded default: a random key kept in ``<output>/.caseview_secret``
    (readable by its owner only). Set it in production, the same on every replica.
    """

    model_config = SettingsConfigDict(env_prefix="SAFELINK_CASE_VIEW_", extra="ignore")

    secret_key: str = ""
    session_hours: int = Field(default=12, ge=1, le=24 * 7)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    min_password_length: int = Field(default=12, ge=8)


class OidcSettings(BaseSettings):
    """Optional single sign-on through an OpenID Connect provider (for example NHS CIS2).

    All of ``metadata_url``, ``client_id`` and ``client_secret`` set turns it on. Accounts still come from
    ``safelink users add``: the provider vouches for the e-mail address, the account gives the role.
    """

    model_config = SettingsConfigDict(env_prefix="SAFELINK_OIDC_", extra="ignore")

    metadata_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    scope: str = "openid email profile"
    label: str = "Sign in with your NHS account"
    email_claim: str = "email"

    @property
    def enabled(self) -> bool:
        """Whether single sign-on is configured."""
        return bool(self.metadata_url and self.client_id and self.client_secret)


def session_secret(settings: CaseViewSettings, output: Path) -> str:
    """The key that signs session cookies: the setting, else ``<output>/.caseview_secret`` (made on first use).

    Args:
        settings: the case view settings.
        output: the deployment's output folder.
    """
    if settings.secret_key:
        return settings.secret_key
    path = output / SECRET_FILE
    if not path.exists():
        output.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()
