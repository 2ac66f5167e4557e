"""HTTPS at the gateway and mutual TLS between services (issue 14, item 19).

Two real set-ups, with certificates nobody but the test made:

- `mtls_users`: `mercato run users` as a process, given a server certificate for
  127.0.0.1, its key and the test's CA. It must serve HTTPS, refuse a client without
  a certificate, one whose certificate a rogue CA signed and a plain-HTTP request, and
  serve a client with a certificate of the CA; the chassis' service client, the
  gateway's upstream pool and the launcher's probe each present their certificate.
- `tls_system`: `mercato up --tls`, the whole system with the launcher's development
  CA. Its gateway answers over HTTPS with HSTS and not over plain HTTP; a request
  through it reaches a service over mutual TLS, and that service calls another one
  with a service token from auth, and checks the caller's access token with auth's
  JWKS, all over mutual TLS; its services refuse a client without a certificate and
  one from the test's CA (a rogue one to them).

Every test checks that the valid client is served before it checks a refusal, so that
none passes against a server that speaks no TLS at all.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mercato.chassis.client.service_client import ServiceClient, ServiceUnavailableError
from mercato.chassis.config import ServiceSettings, load_settings
from mercato.gateway.upstream import ConnectFailed, ExchangeFailed, UpstreamPool
from mercato.launcher.probe import http_ok
from tests.support.ports import free_base_port
from tests.support.servers import closed_port
from tests.support.tls import (
    Pki,
    make_pki,
    status_line,
    stop,
    wait_until_listening,
)
from tests.support.web import page_form

OK = "HTTP/1.1 200 OK"
START_TIMEOUT = 90.0


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_")}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mtls_users(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The users service under mutual TLS, as a process; its port."""
    port = closed_port()
    env = _clean_environment() | {
        "MERCATO_USERS_PORT": str(port),
        "MERCATO_USERS_DATA_DIR": str(tmp_path_factory.mktemp("users")),
        "MERCATO_USERS_BROKER_URL": "",
        "MERCATO_USERS_TLS_CERTFILE": str(pki.cert("server")),
        "MERCATO_USERS_TLS_KEYFILE": str(pki.key("server")),
        "MERCATO_USERS_TLS_CA_FILE": str(pki.ca),
        "MERCATO_USERS_AUTH_URL": "https://127.0.0.1:1",  # not called by these tests
    }
    command = [sys.executable, "-m", "mercato", "run", "users"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until_listening(port, process, timeout=START_TIMEOUT)
        yield port
    finally:
        stop(process)


def test_a_service_under_mutual_tls_serves_a_client_with_a_certificate_of_its_ca(
    mtls_users: int, pki: Pki
) -> None:
    assert status_line(mtls_users, pki.client_context("client")) == OK


def test_a_service_under_mutual_tls_refuses_a_client_without_a_certificate(
    mtls_users: int, pki: Pki
) -> None:
    assert status_line(mtls_users, pki.client_context("client")) == OK
    assert status_line(mtls_users, pki.client_context(None)).startswith("refused: ")


def test_a_service_under_mutual_tls_refuses_a_certificate_from_a_rogue_ca(
    mtls_users: int, pki: Pki
) -> None:
    assert status_line(mtls_users, pki.client_context("client")) == OK
    assert status_line(mtls_users, pki.client_context("rogue")).startswith("refused: ")


def test_plain_http_to_a_tls_port_gets_no_answer(mtls_users: int, pki: Pki) -> None:
    assert status_line(mtls_users, pki.client_context("client")) == OK
    assert status_line(mtls_users, None).startswith("refused: ")


def _caller_settings(pki: Pki, certificate: str) -> ServiceSettings:
    """The settings of a service (orders) that calls others under mutual TLS."""
    return load_settings(
        ServiceSettings,
        "orders",
        {
            "MERCATO_ORDERS_TLS_CERTFILE": str(pki.cert(certificate)),
            "MERCATO_ORDERS_TLS_KEYFILE": str(pki.key(certificate)),
            "MERCATO_ORDERS_TLS_CA_FILE": str(pki.ca),
            "MERCATO_ORDERS_AUTH_URL": "https://127.0.0.1:1",
        },
    )


async def test_the_service_client_presents_its_certificate(mtls_users: int, pki: Pki) -> None:
    url = f"https://127.0.0.1:{mtls_users}/health/live"
    context = _caller_settings(pki, "client").tls_client_context()
    async with ServiceClient(ssl=context, retries=0) as client:
        response = await client.get(url, target="users", auth=False)
    assert response.status == 200
    # The same call without a certificate to present is refused.
    async with ServiceClient(ssl=pki.client_context(None), retries=0) as anonymous:
        with pytest.raises(ServiceUnavailableError):
            await anonymous.get(url, target="users", auth=False)


async def test_the_gateways_upstream_connections_present_its_certificate(
    mtls_users: int, pki: Pki
) -> None:
    origin = f"https://127.0.0.1:{mtls_users}"
    pool = UpstreamPool(ssl=_caller_settings(pki, "client").tls_client_context())
    try:
        answer = await pool.exchange(
            origin, "GET", "/health/live", [], None, idempotent=True, timeout=10
        )
        again = await pool.exchange(  # on the kept-alive TLS connection
            origin, "GET", "/health/live", [], None, idempotent=True, timeout=10
        )
    finally:
        await pool.close()
    assert (answer.status, again.status) == (200, 200)
    anonymous = UpstreamPool(ssl=pki.client_context(None))
    try:
        with pytest.raises((ConnectFailed, ExchangeFailed)):
            await anonymous.exchange(
                origin, "GET", "/health/live", [], None, idempotent=True, timeout=10
            )
    finally:
        await anonymous.close()


async def test_the_launchers_probe_presents_its_certificate(mtls_users: int, pki: Pki) -> None:
    assert await http_ok("127.0.0.1", mtls_users, "/health/ready", tls=pki.client_context())
    assert not await http_ok("127.0.0.1", mtls_users, "/health/ready", tls=pki.client_context(None))


# -- the whole system: `mercato up --tls` ---------------------------------------------


class TlsSystem:
    """A running `mercato up --tls`: its gateway's port and its data directory."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.ca = data_dir / "tls" / "ca.pem"

    def context(self, certificate: str | None = None) -> ssl.SSLContext:
        """A client trusting the system's CA, presenting one of its certificates (or none)."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if certificate is not None:
            tls = self.data_dir / "tls"
            context.load_cert_chain(tls / f"{certificate}.pem", tls / f"{certificate}-key.pem")
        return context

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"https://127.0.0.1:{self.port}",
            verify=self.context(),
            timeout=15.0,
            trust_env=False,
        )


@pytest.fixture(scope="module")
def tls_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSystem]:
    root = tmp_path_factory.mktemp("tls-system")
    port = free_base_port()
    command = [sys.executable, "-m", "mercato", "up", "--tls", "--port", str(port)]
    command += ["--data-dir", str(root / "data")]
    log_path = root / "mercato-up.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=_clean_environment()
        )
    system = TlsSystem(port, root / "data")
    try:
        _wait_healthy(system, process)
        yield system
    except BaseException:
        print(log_path.read_text(errors="replace")[-20_000:])
        raise
    finally:
        code = stop(process, timeout=90)
    assert code == 0, f"`mercato up --tls` exited with {code}"


def _wait_healthy(system: TlsSystem, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"`mercato up --tls` exited with {process.returncode}"
        if system.ca.exists():
            with system.client() as http:
                try:
                    if http.get("/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
        time.sleep(0.25)
    raise TimeoutError("the gateway's /health was not 200 over HTTPS in time")


def test_the_gateway_answers_over_https_with_hsts(tls_system: TlsSystem) -> None:
    with tls_system.client() as http:
        response = http.get("/health")
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")
    services = response.json()["services"]
    assert len(services) == 9  # the eight behind /api/ and the storefront
    for health in services.values():  # each reached over mutual TLS by the gateway
        assert health["status"] == "ok"


def test_plain_http_to_the_gateway_gets_no_answer(tls_system: TlsSystem) -> None:
    assert status_line(tls_system.port, tls_system.context(), "/health") == OK
    assert status_line(tls_system.port, None, "/health").startswith("refused: ")


def test_the_storefront_over_https_signs_in_with_a_secure_host_cookie(
    tls_system: TlsSystem,
) -> None:
    """The gateway says the browser came over HTTPS; web calls auth over mutual TLS."""
    with tls_system.client() as http:
        page = http.get("/register")
        assert page.status_code == 200, page.text
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-mercato_session=") and "; Secure" in cookie
        token = page_form(page.text, "register")["csrf_token"]
        fields = {
            "csrf_token": token,
            "name": "Tess Tls",
            "email": f"tls-web-{uuid.uuid4().hex[:12]}@example.com",
            "password": "a long enough password",
        }
        origin = {"Origin": str(http.base_url).rstrip("/")}
        created = http.post("/register", data=fields, headers=origin)
        assert created.status_code == 303, created.text
        home = http.get("/")
    assert home.status_code == 200
    assert "Tess Tls" in home.text and ">Log out</button>" in home.text
    assert home.headers["strict-transport-security"].startswith("max-age=")


def test_a_request_through_the_gateway_crosses_services_over_mutual_tls(
    tls_system: TlsSystem,
) -> None:
    email = f"tls-{uuid.uuid4().hex[:12]}@example.com"
    password = "a long enough password"
    with tls_system.client() as http:
        registered = http.post(
            "/api/auth/register", json={"email": email, "password": password, "name": "T"}
        )
        assert registered.status_code == 201, registered.text
        login = http.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        # users checks the token with auth's JWKS, fetched over mutual TLS
        me = http.get("/api/users/me", headers=bearer)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == email
        products = http.get("/api/catalog/products", params={"limit": 50}).json()["items"]
        product = next(p for p in products if p["stock"] > 0)
        # orders asks catalog for the price, with a service token it got from auth
        cart = http.put(
            f"/api/orders/cart/items/{product['id']}", json={"quantity": 1}, headers=bearer
        )
    assert cart.status_code == 200, cart.text
    assert cart.json()["items"][0]["product_id"] == product["id"]


def test_the_systems_services_refuse_clients_without_its_certificates(
    tls_system: TlsSystem, pki: Pki
) -> None:
    catalog = tls_system.port + 130
    path = "/api/catalog/products?limit=1"
    assert status_line(catalog, tls_system.context("launcher"), path) == OK
    assert status_line(catalog, tls_system.context(None), path).startswith("refused: ")
    # A certificate of another CA (the test's own) is a rogue one to this system.
    rogue = tls_system.context(None)
    rogue.load_cert_chain(pki.cert("client"), pki.key("client"))
    assert status_line(catalog, rogue, path).startswith("refused: ")


def test_status_asks_every_process_over_mutual_tls(tls_system: TlsSystem) -> None:
    """`mercato status` presents the launcher's certificate, as the probes of `up` do."""
    result = subprocess.run(
        [sys.executable, "-m", "mercato", "status", "--json"],
        capture_output=True,
        text=True,
        env={**_clean_environment(), "MERCATO_DATA_DIR": str(tls_system.data_dir)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    processes = json.loads(result.stdout)["processes"]
    assert {p["name"] for p in processes} >= {"nats", "auth-1", "gateway-1"}
    assert all(p["health"] == "ready" for p in processes)
    services = list((tls_system.data_dir / "run").glob("*-1.json"))
    assert all(json.loads(s.read_text())["health"].startswith("https://") for s in services)
