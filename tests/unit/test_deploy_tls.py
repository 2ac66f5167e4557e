"""Unit tests of `deploy/compose.tls.yaml`, the override that turns on HTTPS and mutual TLS.

Like `test_deploy_manifests`, these read the file: every service gets its own
certificate, its key and the CA at the paths the shared variables name, from the files
`mercato certificates` writes; every variable set is a setting of its service; every
URL between services is https://; a service's health check presents a certificate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mercato.launcher.certificates import TlsFiles
from tests.support.deploy import (
    DEPLOY,
    SERVICE_NAMES,
    compose_services,
    documents,
    setting_names,
)

TLS_COMPOSE = DEPLOY / "compose.tls.yaml"
MOUNTED = "/etc/mercato/tls"


def overrides() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = documents(TLS_COMPOSE)[0]["services"]
    return services


def test_it_overrides_every_service_of_compose_and_no_other() -> None:
    assert sorted(overrides()) == sorted(compose_services()) == SERVICE_NAMES


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_mounts_its_own_certificate_its_key_and_the_ca(name: str) -> None:
    files = TlsFiles(Path("./tls"))  # what `mercato certificates deploy/tls` writes
    mounts = {
        target: source
        for source, target, mode in (v.split(":") for v in overrides()[name]["volumes"])
        if mode == "ro"
    }
    assert mounts == {
        f"{MOUNTED}/ca.pem": f"./{files.ca}",
        f"{MOUNTED}/cert.pem": f"./{files.certificate(name)}",
        f"{MOUNTED}/key.pem": f"./{files.key(name)}",
    }
    env = overrides()[name]["environment"]
    assert env["MERCATO_TLS_CERTFILE"] == f"{MOUNTED}/cert.pem"
    assert env["MERCATO_TLS_KEYFILE"] == f"{MOUNTED}/key.pem"
    assert env["MERCATO_TLS_CA_FILE"] == f"{MOUNTED}/ca.pem"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_variable_is_a_setting_and_every_url_https(name: str) -> None:
    env = overrides()[name]["environment"]
    assert [variable for variable in env if variable not in setting_names(name)] == []
    urls = [v for k, v in env.items() if k.endswith(("_URL", "_UPSTREAMS"))]
    assert urls and all("http://" not in url for url in urls)
    assert all("https://" in url for url in urls)


def test_the_gateway_forwards_to_every_service_over_https() -> None:
    upstreams = overrides()["gateway"]["environment"]["MERCATO_GATEWAY_UPSTREAMS"]
    pairs = dict(pair.split("=", 1) for pair in upstreams.split(","))
    assert pairs == {name: f"https://{name}:8000" for name in SERVICE_NAMES if name != "gateway"}


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_health_checks_speak_tls_and_services_present_a_certificate(name: str) -> None:
    command = overrides()[name]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    code = command[3]
    compile(code, f"{name} healthcheck", "exec")
    assert "https://localhost:8000/health/ready" in code
    assert f"cafile='{MOUNTED}/ca.pem'" in code
    presents = "load_cert_chain" in code
    assert presents == (name != "gateway")  # the gateway asks its clients for none
