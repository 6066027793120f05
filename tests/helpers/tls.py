"""Test certificates (made with ``cryptography`` at test time) and TLS SMTP servers (aiosmtpd).

Nothing here is a stub: the servers are real aiosmtpd servers speaking STARTTLS or implicit TLS with
real certificates, so the client's verification is what decides.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.test_alerts_helpers import RecordingHandler, free_port


@dataclass(frozen=True)
class Pem:
    """A certificate and its key as PEM files."""

    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _write(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    folder.mkdir(parents=True, exist_ok=True)
    pem = Pem(folder / f"{stem}.crt", folder / f"{stem}.key")
    pem.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return pem


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30)))


@dataclass
class Pki:
    """A private CA, and certificates it (or nobody) signed."""

    folder: Path
    ca_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    ca: Pem | None = None

    def __post_init__(self) -> None:
        cert = (_builder("Safelink Test CA", _name("Safelink Test CA"), self.ca_key)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(self.ca_key, hashes.SHA256()))
        self._ca_cert = cert
        self.ca = _write(self.folder, "ca", cert, self.ca_key)

    def server(self, stem: str, hosts: list[str]) -> Pem:
        """A server certificate for ``hosts`` signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (_builder(hosts[0], self._ca_cert.subject, key).add_extension(_san(hosts), critical=False)
                .sign(self.ca_key, hashes.SHA256()))
        return _write(self.folder, stem, cert, key)

    def self_signed(self, stem: str, hosts: list[str]) -> Pem:
        """A self-signed server certificate for ``hosts`` (nobody vouches for it)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (_builder(hosts[0], _name(hosts[0]), key).add_extension(_san(hosts), critical=False)
                .sign(key, hashes.SHA256()))
        return _write(self.folder, stem, cert, key)


@dataclass
class TlsSmtpServer:
    """A running aiosmtpd server with TLS that requires AUTH, recording every login attempt."""

    controller: Controller
    handler: RecordingHandler
    port: int
    logins: list[tuple[str, str]]

    def stop(self) -> None:
        """Stop the server."""
        self.controller.stop()


def _server_context(pem: Pem) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem.cert, pem.key)
    return context


def start_tls_server(pem: Pem, *, implicit: bool = False, credentials: tuple[str, str] = ("", "")) -> TlsSmtpServer:
    """Start a real SMTP server on 127.0.0.1 presenting ``pem``: STARTTLS required, or implicit TLS.

    Args:
        pem: the certificate the server presents.
        implicit: TLS from the first byte (port 465 style) instead of STARTTLS.
        credentials: the login and password AUTH accepts; every attempt is recorded.
    """
    handler = RecordingHandler()
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            logins.append((auth_data.login.decode(), auth_data.password.decode()))
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()) == credentials
        return AuthResult(success=ok, handled=False)

    port = free_port()
    kwargs: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if implicit:
        kwargs |= {"ssl_context": _server_context(pem), "auth_require_tls": False}
    else:
        kwargs |= {"tls_context": _server_context(pem), "require_starttls": True, "auth_require_tls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **kwargs)
    controller.start()
    return TlsSmtpServer(controller, handler, port, logins)
