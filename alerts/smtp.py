"""SMTP settings (environment or an Airflow connection, never files in the repository) and delivery.

Messages are built with the standard ``email`` package (a ``multipart/alternative`` with exact
text/plain and text/html parts) and delivered over a connection that yagmail opens. TLS (``ssl``
or ``starttls``) always verifies the server's certificate and host name with
``ssl.create_default_context()`` (the system's CA store, or ``SAFELINK_SMTP_CA_FILE`` for a private
CA): a server that cannot prove it is ``SAFELINK_SMTP_HOST`` never sees the login or a message. A
password is never sent over an unencrypted connection unless ``SAFELINK_SMTP_ALLOW_INSECURE_AUTH``
says so explicitly. yagmail's own ``send()`` is not used for delivery: it
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
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
    ca_file: Path | None = None  # PEM bundle of the CA(s) to trust instead of the system store
    allow_insecure_auth: bool = False  # allow a login over security "none" (a relay on this host only)
    # A message claimed longer ago than this by a run that never recorded the result is sent again.
    claim_timeout: float = Field(default=180.0, gt=0)

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
        ca_file=extra.get("ca_file") or settings.ca_file,
        allow_insecure_auth=bool(extra.get("allow_insecure_auth", settings.allow_insecure_auth)),
        claim_timeout=float(extra.get("claim_timeout", settings.claim_timeout)),
    )


def validate_smtp_settings(settings: SmtpSettings) -> None:
    """Refuse settings that would silently misbehave under yagmail.

    Args:
        settings: the SMTP settings.

    Raises:
        SmtpConfigError: a user without '@' (yagmail would append @gmail.com), a user without a
            password (yagmail would fall back to keyring and an interactive prompt), a bad From, a
            login over an unencrypted connection not explicitly allowed, a CA file that is not there,
            or a claim timeout too short for one send.
    """
    if not settings.configured:
        return
    if settings.user and "@" not in settings.user:
        raise SmtpConfigError("SAFELINK_SMTP_USER must be a full e-mail address (user@domain)")
    if settings.user and not settings.password.get_secret_value():
        raise SmtpConfigError("SAFELINK_SMTP_USER is set without SAFELINK_SMTP_PASSWORD")
    if "@" not in settings.sender:
        raise SmtpConfigError("SAFELINK_SMTP_FROM must be a full e-mail address (name@domain)")
    if settings.user and settings.security == "none" and not settings.allow_insecure_auth:
        raise SmtpConfigError(
            "SAFELINK_SMTP_SECURITY=none would send the SMTP password unencrypted: set SAFELINK_SMTP_SECURITY "
            "to starttls or ssl (or, for a relay on this host only, SAFELINK_SMTP_ALLOW_INSECURE_AUTH=true)")
    if settings.ca_file is not None and not settings.ca_file.is_file():
        raise SmtpConfigError(f"SAFELINK_SMTP_CA_FILE {settings.ca_file} is not a file: point it at a PEM CA bundle")
    if settings.claim_timeout < 3 * settings.timeout:
        raise SmtpConfigError(
            f"SAFELINK_SMTP_CLAIM_TIMEOUT ({settings.claim_timeout:g}s) must be at least three times "
            f"SAFELINK_SMTP_TIMEOUT ({settings.timeout:g}s), or a slow send could be sent twice")


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """A client TLS context that verifies the certificate chain and the host name.

    Args:
        settings: the SMTP settings (``ca_file`` replaces the system's CA store when set).
    """
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


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
        tls: dict[str, Any] = {}
        if s.security == "ssl":
            tls = {"context": tls_context(s)}  # passed on to smtplib.SMTP_SSL
        client = yagmail.SMTP(
            user=s.user if login else s.sender,
            password=s.password.get_secret_value() if login else None,
            host=s.host,
            port=s.effective_port(),
            smtp_ssl=s.security == "ssl",
            # yagmail calls starttls(**this): without a context smtplib would not verify the server
            smtp_starttls={"context": tls_context(s)} if s.security == "starttls" else False,
            smtp_skip_login=not login,
            timeout=s.timeout,
            local_hostname=s.helo_name or None,
            **tls,
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
        except ssl.SSLCertVerificationError as exc:
            self.close()
            fix = ("set SAFELINK_SMTP_HOST to the name on the server's certificate"
                   if "mismatch" in str(exc.verify_message) else
                   "if the server uses a private CA, set SAFELINK_SMTP_CA_FILE to its PEM bundle")
            raise DeliveryError(f"TLS certificate refused ({exc.verify_message}): nothing was sent; {fix}",
                                True) from None
        except smtplib.SMTPNotSupportedError:
            self.close()
            raise DeliveryError("the server does not offer STARTTLS: nothing was sent in clear", True) from None
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
