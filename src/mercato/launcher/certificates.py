"""A development CA and a certificate per service, for `mercato up --tls`.

`development_certificates(directory, names)` keeps, in `<data_dir>/tls` (mode 0700):

    ca.pem, ca-key.pem              the development CA (ECDSA P-256, 5 years)
    <name>.pem, <name>-key.pem      each service's certificate (1 year), and the
                                    launcher's, which its readiness probes present

Every certificate is for `localhost`, `127.0.0.1`, `::1` and the service's name, and
serves both as a server and as a client certificate (mutual TLS). Keys are written
0600 and never encrypted: the processes read them at start, unattended. What exists
is reused across restarts (so a browser or `curl --cacert` that trusts `ca.pem` keeps
trusting it); a certificate is issued again when it is missing, unreadable, not
issued by the current CA, or within 30 days of its end, and every one when the CA is
renewed. This is a development CA: its key sits next to the data it protects.
Production certificates come from the deployment's own PKI (see the README).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LAUNCHER", "TLS_DIR", "TlsFiles", "development_certificates"]

TLS_DIR = "tls"
LAUNCHER = "launcher"  # the probes' client certificate
CA_DAYS = 5 * 365
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)
HOSTS = ("localhost",)
ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    """Where the development CA and the certificates are."""

    directory: Path

    @property
    def ca(self) -> Path:
        """The CA certificate every process trusts."""
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """The CA's private key."""
        return self.directory / "ca-key.pem"

    def certificate(self, name: str) -> Path:
        """The certificate of `name`."""
        return self.directory / f"{name}.pem"

    def key(self, name: str) -> Path:
        """The private key of `name`."""
        return self.directory / f"{name}-key.pem"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes) -> None:
    """Write `data` to `path` owner-only, atomically (no moment with other permissions)."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load(
    certificate: Path, key: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The certificate and key in those files, or None if either is missing or unusable."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.read_bytes())
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        return None
    if cert.public_key() != private.public_key():
        return None
    return cert, private


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _new_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mercato development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Mercato development CA ({os.uname()[1]})"),
        ]
    )
    now = _now()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(files.ca_key, _key_pem(key))
    _write(files.ca, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _new_leaf(
    files: TlsFiles, name: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    public = key.public_key()
    names: list[x509.GeneralName] = [x509.DNSName(host) for host in (*HOSTS, name)]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ADDRESSES]
    ca_identifier = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_identifier),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(files.key(name), _key_pem(key))
    _write(files.certificate(name), cert.public_bytes(serialization.Encoding.PEM))


def development_certificates(directory: Path, names: Iterable[str]) -> TlsFiles:
    """The CA and a certificate for each of `names` and the launcher, made when needed."""
    files = TlsFiles(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    found = _load(files.ca, files.ca_key)
    renewed = found is None or not _fresh(found[0])
    ca, ca_key = _new_ca(files) if renewed or found is None else found
    paths = [files.ca, files.ca_key]
    for name in (*names, LAUNCHER):
        leaf = _load(files.certificate(name), files.key(name))
        if renewed or leaf is None or not _fresh(leaf[0]) or not _issued_by(leaf[0], ca):
            _new_leaf(files, name, ca, ca_key)
        paths += [files.certificate(name), files.key(name)]
    for path in paths:  # files kept from an earlier start, perhaps copied in by hand
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    return files
