"""Certificates the TLS tests make for themselves (with `cryptography`, not the code under test).

`make_pki(directory)` writes, all PEM:

    ca.pem                      the CA the services trust
    server.pem, server-key.pem  a server (and client) certificate for 127.0.0.1/localhost
    client.pem, client-key.pem  a client certificate from the same CA
    rogue-ca.pem                another CA, which nobody trusts
    rogue.pem, rogue-key.pem    a client certificate from the rogue CA
    expired.pem, expired-key.pem  a certificate of the CA that has expired

and returns their paths. Also: `status_line`, what a raw (TLS) socket gets back, and
the helpers that start and stop the real processes the tests talk to.
"""

from __future__ import annotations

import datetime
import ipaddress
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Pki:
    """Paths of the test's certificates and keys."""

    directory: Path

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}-key.pem"

    @property
    def ca(self) -> Path:
        return self.cert("ca")

    def client_context(self, name: str | None = "client") -> ssl.SSLContext:
        """A client that trusts the CA and presents `name`'s certificate (None: none)."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if name is not None:
            context.load_cert_chain(self.cert(name), self.key(name))
        return context


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _save(directory: Path, name: str, cert: x509.Certificate, key: Key | None) -> None:
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (directory / f"{name}-key.pem").write_bytes(pem)


def _ca(common_name: str) -> tuple[x509.Certificate, Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(days=1))
        .not_valid_after(_now() + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str, ca: x509.Certificate, ca_key: Key, *, expired: bool = False
) -> tuple[x509.Certificate, Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now() - datetime.timedelta(days=10 if expired else 1)
    end = _now() - datetime.timedelta(days=1) if expired else _now() + datetime.timedelta(days=30)
    ca_identifier = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_identifier), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def make_pki(directory: Path) -> Pki:
    """Write the test's CA, certificates and keys into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("Mercato test CA")
    rogue_ca, rogue_ca_key = _ca("Mercato test CA")  # the same name: only the key differs
    _save(directory, "ca", ca, None)
    _save(directory, "rogue-ca", rogue_ca, None)
    _save(directory, "server", *_leaf("server", ca, ca_key))
    _save(directory, "client", *_leaf("client", ca, ca_key))
    _save(directory, "rogue", *_leaf("client", rogue_ca, rogue_ca_key))
    _save(directory, "expired", *_leaf("expired", ca, ca_key, expired=True))
    return Pki(directory)


def status_line(port: int, context: ssl.SSLContext | None, path: str = "/health/live") -> str:
    """The status line `GET path` gets on a raw socket (over TLS with `context`).

    "refused: <why>" when no HTTP answer comes: a failed handshake, a reset, or the
    connection closed without a byte, which is how a TLS server treats a plain request
    or a client certificate it does not accept (under TLS 1.3 the refusal of a client
    certificate arrives after the client's side of the handshake, at the first read).
    """
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            if context is None:
                raw.sendall(request.encode())
                data = raw.recv(4096)
            else:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.sendall(request.encode())
                    data = tls.recv(4096)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
            return f"refused: {type(exc).__name__}: {exc}"
    if not data:
        return "refused: closed without an answer"
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Return once something accepts connections on `port`; fail if `process` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the process exited with {process.returncode}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {port} within {timeout}s")


def stop(process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """SIGTERM `process` and wait for it (kill it past `timeout`); its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
