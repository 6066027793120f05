"""SMTP settings (environment or an Airflow connection, never files in the repository) and delivery.

Messages are built with the standard ``email`` package (a ``multipart/alternative`` with exact
text/plain and text/html parts) and delivered over a connection that yagmail opens, so SSL,
STARTTLS and login follow yagmail's handling. yagmail's own ``send()`` is not used for delivery: it
rebuilds the message (turning the plain-text part into HTML), retries a dropped connection
internally with sleeps (a retry after the server accepted the data would deliver twice) and can
return ``False`` instead of raising. Here every failure raises :class:`DeliveryError` and the
caller keeps the message queued.
"""

from __future__ import annotations

import contextlib
import json
import logging
import smtplib
from dataclasses import dataclass
from typing import Literal

import yagmail
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]
DEFAULT_FROM = "safelink@localhost.localdomain"


class SmtpSettings(BaseSettings):
    """``SAFELINK_SMTP_*`` environment variables; an empty host means "write .eml files instead".

    ``SAFELINK_SMTP_CONN_ID`` names an Airflow connection (conn type smtp) to read instead: its
    host, port, login, password and extras (``from_email``, ``security`` or the SMTP provider's
    ``disable_ssl`` / ``disable_tls``, ``timeout``).
    """

    model_config = SettingsConfigDict(env_prefix="SAFELINK_SMTP_", extra="ignore")

    host: str = ""
    port: int | None = None
    user: str = ""
    password: SecretStr = SecretStr("")
    security: Security = "starttls"
    from_address: str = Field(default="", validation_alias=AliasChoices("SAFELINK_SMTP_FROM", "from_address"))
    conn_id: str = ""
    timeout: float = Field(default=30.0, gt=0)
    helo_name: str = ""  # EHLO name; empty: the machine's fully qualified name

    @property
    def configured(self) -> bool:
        """Whether digests go to an SMTP server (else to ``.eml`` files)."""
        return bool(self.host)

    @property
    def sender(self) -> str:
        """The From address: ``SAFELINK_SMTP_FROM``, else the login user, else a local default."""
        return self.from_address or self.user or DEFAULT_FROM

    def effective_port(self) -> int:
        """The port, defaulting by security (465 for SSL, 587 for STARTTLS, 25 otherwise)."""
        if self.port:
            return self.port
        return {"ssl": 465, "starttls": 587, "none": 25}[self.security]


class SmtpConfigError(ValueError):
    """The SMTP settings cannot work (the message says which setting; never a password)."""


class DeliveryError(RuntimeError):
    """A message was not accepted; ``reason`` is safe to store and log (no addresses, no content).

    Args:
        reason: short description, e.g. ``connection refused`` or ``recipient refused (550)``.
        connection_level: True when the server itself is unusable (stop trying further messages).
    """

    def __init__(self, reason: str, connection_level: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.connection_level = connection_level


def load_smtp_settings() -> SmtpSettings:
    """Read the SMTP settings from the environment, resolving an Airflow connection if one is named."""
    settings = SmtpSettings()
    if settings.conn_id:
        settings = _from_airflow_connection(settings)
    validate_smtp_settings(settings)
    return settings


def _from_airflow_connection(settings: SmtpSettings) -> SmtpSettings:
    from airflow.sdk import BaseHook  # imported only when a connection id is configured

    conn = BaseHook.get_connection(settings.conn_id)
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else json.loads(conn.extra or "{}")
    security: str = str(extra.get("security", ""))
    if not security:
        if not extra.get("disable_ssl", False):
            security = "ssl"
        elif not extra.get("disable_tls", False):
            security = "starttls"
        else:
            security = "none"
    return SmtpSettings(
        host=conn.host or "",
        port=conn.port,
        user=conn.login or "",
        password=SecretStr(conn.password or ""),
        security=security,
        from_address=str(extra.get("from_email", "")) or settings.from_address,
        conn_id=settings.conn_id,
        timeout=float(extra.get("timeout", settings.timeout)),
    )


def validate_smtp_settings(settings: SmtpSettings) -> None:
    """Refuse settings that would silently misbehave under yagmail.

    Args:
        settings: the SMTP settings.

    Raises:
        SmtpConfigError: a user without '@' (yagmail would append @gmail.com), a user without a
            password (yagmail would fall back to keyring and an interactive prompt), or a bad From.
    """
    if not settings.configured:
        return
    if settings.user and "@" not in settings.user:
        raise SmtpConfigError("SAFELINK_SMTP_USER must be a full e-mail address (user@domain)")
    if settings.user and not settings.password.get_secret_value():
        raise SmtpConfigError("SAFELINK_SMTP_USER is set without SAFELINK_SMTP_PASSWORD")
    if "@" not in settings.sender:
        raise SmtpConfigError("SAFELINK_SMTP_FROM must be a full e-mail address (name@domain)")


@dataclass(frozen=True)
class Outgoing:
    """One message ready to deliver."""

    sender: str
    recipient: str
    message: str


class SmtpTransport:
    """Deliver messages over one yagmail-opened connection (reopened after a connection failure).

    Args:
        settings: validated SMTP settings with a host.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: yagmail.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> yagmail.SMTP:
        s = self.settings
        login = bool(s.user)
        client = yagmail.SMTP(
            user=s.user if login else s.sender,
            password=s.password.get_secret_value() if login else None,
            host=s.host,
            port=s.effective_port(),
            smtp_ssl=s.security == "ssl",
            smtp_starttls=s.security == "starttls",
            smtp_skip_login=not login,
            timeout=s.timeout,
            local_hostname=s.helo_name or None,
        )
        client.set_logging(logging.CRITICAL)  # yagmail logs recipients at INFO/ERROR
        client.login()
        return client

    def close(self) -> None:
        """Close the connection if open."""
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.close()
            self._client = None

    def send(self, outgoing: Outgoing) -> None:
        """Deliver one message, or raise :class:`DeliveryError`.

        Args:
            outgoing: sender, recipient and the full message text.
        """
        try:
            if self._client is None:
                self._client = self._connect()
            refused = self._client.smtp.sendmail(outgoing.sender, [outgoing.recipient], outgoing.message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryError(f"recipient refused ({', '.join(map(str, codes))})", False) from None
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise DeliveryError(f"authentication refused ({exc.smtp_code})", True) from None
        except smtplib.SMTPSenderRefused as exc:
            raise DeliveryError(f"sender refused ({exc.smtp_code})", False) from None
        except smtplib.SMTPDataError as exc:
            raise DeliveryError(f"message refused ({exc.smtp_code})", False) from None
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            reason = "timed out" if "timed out" in str(exc) else "connection closed by the server"
            raise DeliveryError(reason, True) from None
        except smtplib.SMTPConnectError as exc:
            self.close()
            raise DeliveryError(f"server refused the connection ({exc.smtp_code})", True) from None
        except TimeoutError:
            self.close()
            raise DeliveryError("timed out", True) from None
        except ConnectionRefusedError:
            self.close()
            raise DeliveryError("connection refused", True) from None
        except smtplib.SMTPException as exc:
            self.close()
            raise DeliveryError(f"SMTP error ({type(exc).__name__})", True) from None
        except OSError as exc:
            self.close()
            raise DeliveryError(f"network error ({type(exc).__name__})", True) from None
        if refused:
            raise DeliveryError("recipient refused", False)
