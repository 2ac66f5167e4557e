"""TLS for Mercato's processes: the checks of the certificate files and the client context.

A process given a certificate and its key (`tls_certfile`, `tls_keyfile`) serves HTTPS;
given also the CA of the service-to-service calls (`tls_ca_file`), a service requires a
client certificate signed by it (mutual TLS), and every process calls services
verifying them against that CA and presenting its own certificate (or the one in
`tls_client_certfile`/`tls_client_keyfile`). The server side is uvicorn's (the
`ssl_*` arguments `chassis.web.serve` passes on); this module holds what the settings check
at start and the `ssl.SSLContext` of the outgoing calls, which the service client
(aiohttp), the gateway's upstream connections and the launcher's probes share.

The checks raise `ValueError` with a one-line message, which the settings loader turns
into a `SettingsError` naming the variable: a file that is missing or unreadable, one
that holds no PEM certificate (or key), a certificate that has expired, a key that
does not belong to its certificate, or an encrypted key (nothing could ask for its
passphrase; OpenSSL would prompt on the terminal).
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509

__all__ = ["check_ca_file", "check_certificate", "check_key_pair", "client_context"]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_certificate(path: Path) -> Path:
    """That `path` holds a PEM certificate (chain) still valid now; returns `path`."""
    data = _read(path)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{path} holds no PEM certificate") from None
    expires = certificates[0].not_valid_after_utc
    if expires <= datetime.datetime.now(datetime.UTC):
        raise ValueError(f"the certificate in {path} expired on {expires:%Y-%m-%d}")
    return path


def _no_passphrase() -> bytes:
    raise ValueError("the key is encrypted")


def check_key_pair(certfile: Path, keyfile: Path) -> None:
    """That `keyfile` is the unencrypted PEM key of the certificate in `certfile`."""
    _read(keyfile)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_passphrase)
    except ValueError:  # from _no_passphrase
        raise ValueError(f"{keyfile} is encrypted; give the key without a passphrase") from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise ValueError(f"{keyfile} is not the key of the certificate in {certfile}") from None
        raise ValueError(f"{keyfile} holds no usable PEM private key ({exc.reason})") from None


def check_ca_file(path: Path) -> Path:
    """That `path` holds one or more PEM CA certificates; returns `path`."""
    check_certificate(path)
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        raise ValueError(f"{path} is not a usable CA file ({exc.reason})") from None
    return path


def client_context(
    ca_file: Path | None, certificate: tuple[Path, Path] | None
) -> ssl.SSLContext | None:
    """The context of outgoing HTTPS calls: servers verified against `ca_file` (else the
    system's trust store), presenting `certificate` (cert, key) when given.

    None when neither is given: an `https://` URL is then verified against the system's
    trust store by the client's own default.
    """
    if ca_file is None and certificate is None:
        return None
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if certificate is not None:
        context.load_cert_chain(certificate[0], certificate[1])
    return context
