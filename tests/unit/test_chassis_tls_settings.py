"""Unit tests of the TLS settings: each bad file is a one-line error naming its variable.

A service given a certificate and key serves HTTPS; given a CA too, it requires client
certificates (mutual TLS) and its calls present its certificate. The gateway never asks
its public clients for one, and turns HSTS on when it serves HTTPS.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from mercato.chassis.config import ServiceSettings, SettingsError, load_settings
from mercato.gateway.settings import GatewaySettings
from tests.support.tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


AUTH = "https://127.0.0.1:8110"  # under mutual TLS, auth too is reached over https://


def _service(**environ: str | Path) -> ServiceSettings:
    values = {"MERCATO_AUTH_URL": AUTH} | {k: str(v) for k, v in environ.items()}
    return load_settings(ServiceSettings, "users", values)


def _gateway(**environ: str | Path) -> GatewaySettings:
    values = {"MERCATO_AUTH_URL": AUTH} | {k: str(v) for k, v in environ.items()}
    return load_settings(GatewaySettings, "gateway", values)


def _error(load: object, **environ: str | Path) -> str:
    assert callable(load)
    with pytest.raises(SettingsError) as caught:
        load(**environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_service_with_a_certificate_key_and_ca_requires_client_certificates(pki: Pki) -> None:
    settings = _service(
        MERCATO_USERS_TLS_CERTFILE=pki.cert("server"),
        MERCATO_USERS_TLS_KEYFILE=pki.key("server"),
        MERCATO_TLS_CA_FILE=pki.ca,
    )
    assert settings.tls_cert_reqs == ssl.CERT_REQUIRED
    assert settings.tls_clients_ca == str(pki.ca)
    assert settings.tls_client_certificate == (pki.cert("server"), pki.key("server"))
    context = settings.tls_client_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_without_a_ca_a_service_serves_https_to_anyone(pki: Pki) -> None:
    settings = _service(
        MERCATO_USERS_TLS_CERTFILE=pki.cert("server"), MERCATO_USERS_TLS_KEYFILE=pki.key("server")
    )
    assert settings.tls_certfile == pki.cert("server")
    assert settings.tls_cert_reqs == ssl.CERT_NONE
    assert settings.tls_clients_ca is None


def test_the_gateway_serves_https_with_hsts_and_asks_no_client_certificate(pki: Pki) -> None:
    settings = _gateway(
        MERCATO_GATEWAY_TLS_CERTFILE=pki.cert("server"),
        MERCATO_GATEWAY_TLS_KEYFILE=pki.key("server"),
        MERCATO_TLS_CA_FILE=pki.ca,
    )
    assert settings.hsts is True
    assert settings.tls_cert_reqs == ssl.CERT_NONE
    assert settings.tls_clients_ca is None
    # ... but it calls the services over mutual TLS, presenting its certificate
    assert settings.tls_client_certificate == (pki.cert("server"), pki.key("server"))
    assert all(url.startswith("https://") for pool in settings.pools().values() for url in pool)


def test_hsts_can_be_turned_off_and_stays_off_without_tls(pki: Pki) -> None:
    off = _gateway(
        MERCATO_GATEWAY_TLS_CERTFILE=pki.cert("server"),
        MERCATO_GATEWAY_TLS_KEYFILE=pki.key("server"),
        MERCATO_GATEWAY_HSTS="false",
    )
    assert off.tls_certfile == pki.cert("server")
    assert off.hsts is False
    assert _gateway().hsts is False


def test_the_gateway_may_present_another_certificate_than_the_one_it_serves(pki: Pki) -> None:
    settings = _gateway(
        MERCATO_GATEWAY_TLS_CLIENT_CERTFILE=pki.cert("client"),
        MERCATO_GATEWAY_TLS_CLIENT_KEYFILE=pki.key("client"),
        MERCATO_GATEWAY_TLS_CA_FILE=pki.ca,
    )
    assert settings.tls_certfile is None  # plain HTTP to its clients (behind an ingress)
    assert settings.tls_client_certificate == (pki.cert("client"), pki.key("client"))


def test_an_empty_value_is_unset() -> None:
    settings = _service(MERCATO_TLS_CERTFILE="", MERCATO_TLS_KEYFILE="", MERCATO_TLS_CA_FILE="")
    assert settings.tls_certfile is None and settings.tls_client_context() is None


def test_a_missing_certificate_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    message = _error(_service, MERCATO_USERS_TLS_CERTFILE=missing)
    assert (
        message == f"MERCATO_USERS_TLS_CERTFILE: cannot read {missing}: No such file or directory"
    )


def test_an_unreadable_certificate_file(tmp_path: Path, pki: Pki) -> None:
    message = _error(
        _service, MERCATO_USERS_TLS_CERTFILE=tmp_path, MERCATO_USERS_TLS_KEYFILE=pki.key("server")
    )
    assert message.startswith(f"MERCATO_USERS_TLS_CERTFILE: cannot read {tmp_path}: ")


def test_a_file_that_is_no_certificate(pki: Pki) -> None:
    message = _error(
        _service,
        MERCATO_USERS_TLS_CERTFILE=pki.key("server"),
        MERCATO_USERS_TLS_KEYFILE=pki.key("server"),
    )
    assert message == f"MERCATO_USERS_TLS_CERTFILE: {pki.key('server')} holds no PEM certificate"


def test_an_expired_certificate(pki: Pki) -> None:
    message = _error(
        _service,
        MERCATO_USERS_TLS_CERTFILE=pki.cert("expired"),
        MERCATO_USERS_TLS_KEYFILE=pki.key("expired"),
    )
    assert message.startswith(
        f"MERCATO_USERS_TLS_CERTFILE: the certificate in {pki.cert('expired')}"
    )
    assert "expired on" in message


def test_a_key_that_does_not_match_the_certificate(pki: Pki) -> None:
    message = _error(
        _service,
        MERCATO_USERS_TLS_CERTFILE=pki.cert("server"),
        MERCATO_USERS_TLS_KEYFILE=pki.key("client"),
    )
    assert message == (
        f"MERCATO_USERS_TLS_KEYFILE: {pki.key('client')} is not the key of the certificate"
        f" in {pki.cert('server')}"
    )


def test_a_key_that_is_no_key(pki: Pki) -> None:
    message = _error(
        _service,
        MERCATO_USERS_TLS_CERTFILE=pki.cert("server"),
        MERCATO_USERS_TLS_KEYFILE=pki.cert("server"),
    )
    assert message.startswith(
        f"MERCATO_USERS_TLS_KEYFILE: {pki.cert('server')} holds no usable PEM private key"
    )


def test_an_encrypted_key_is_refused_rather_than_prompted_for(tmp_path: Path, pki: Pki) -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    key = serialization.load_pem_private_key(pki.key("server").read_bytes(), password=None)
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"a passphrase"),
        )
    )
    message = _error(
        _service, MERCATO_USERS_TLS_CERTFILE=pki.cert("server"), MERCATO_USERS_TLS_KEYFILE=encrypted
    )
    assert message == (
        f"MERCATO_USERS_TLS_KEYFILE: {encrypted} is encrypted; give the key without a passphrase"
    )


def test_a_certificate_without_its_key_and_a_key_without_its_certificate(pki: Pki) -> None:
    assert _error(_service, MERCATO_TLS_CERTFILE=pki.cert("server")) == (
        "MERCATO_USERS_TLS_KEYFILE: the key of MERCATO_USERS_TLS_CERTFILE is needed too"
    )
    assert _error(_service, MERCATO_TLS_KEYFILE=pki.key("server")) == (
        "MERCATO_TLS_KEYFILE: a key without its certificate: set MERCATO_USERS_TLS_CERTFILE"
    )
    assert _error(_gateway, MERCATO_GATEWAY_TLS_CLIENT_CERTFILE=pki.cert("client")) == (
        "MERCATO_GATEWAY_TLS_CLIENT_KEYFILE: the key of MERCATO_GATEWAY_TLS_CLIENT_CERTFILE"
        " is needed too"
    )


def test_a_ca_file_that_is_missing_or_no_certificate(tmp_path: Path, pki: Pki) -> None:
    server = {
        "MERCATO_USERS_TLS_CERTFILE": pki.cert("server"),
        "MERCATO_USERS_TLS_KEYFILE": pki.key("server"),
    }
    assert _error(_service, **server, MERCATO_TLS_CA_FILE=tmp_path / "ca.pem") == (
        f"MERCATO_TLS_CA_FILE: cannot read {tmp_path / 'ca.pem'}: No such file or directory"
    )
    assert _error(_service, **server, MERCATO_TLS_CA_FILE=pki.key("server")) == (
        f"MERCATO_TLS_CA_FILE: {pki.key('server')} holds no PEM certificate"
    )


def test_mutual_tls_needs_a_certificate_to_present(pki: Pki) -> None:
    assert _error(_service, MERCATO_TLS_CA_FILE=pki.ca) == (
        "MERCATO_TLS_CA_FILE: mutual TLS needs this service's certificate:"
        " set MERCATO_USERS_TLS_CERTFILE and MERCATO_USERS_TLS_KEYFILE"
    )
    assert _error(_gateway, MERCATO_TLS_CA_FILE=pki.ca) == (
        "MERCATO_TLS_CA_FILE: mutual TLS needs a certificate to present:"
        " set MERCATO_GATEWAY_TLS_CLIENT_CERTFILE and MERCATO_GATEWAY_TLS_CLIENT_KEYFILE"
    )


def test_mutual_tls_refuses_a_plain_url_to_auth_or_an_upstream(pki: Pki) -> None:
    server = {
        "MERCATO_USERS_TLS_CERTFILE": pki.cert("server"),
        "MERCATO_USERS_TLS_KEYFILE": pki.key("server"),
        "MERCATO_TLS_CA_FILE": pki.ca,
    }
    assert _error(_service, **server, MERCATO_AUTH_URL="http://auth:8000") == (
        "MERCATO_TLS_CA_FILE: mutual TLS, but MERCATO_USERS_AUTH_URL is http://: use https://"
    )
    message = _error(
        _gateway,
        MERCATO_GATEWAY_TLS_CLIENT_CERTFILE=pki.cert("client"),
        MERCATO_GATEWAY_TLS_CLIENT_KEYFILE=pki.key("client"),
        MERCATO_TLS_CA_FILE=pki.ca,
        MERCATO_GATEWAY_UPSTREAMS="auth=https://auth:8000,catalog=https://c1:8000|http://c2:8000",
    )
    assert message.startswith(
        "MERCATO_GATEWAY_UPSTREAMS: catalog: mutual TLS (TLS_CA_FILE) needs https:// URLs"
    )
