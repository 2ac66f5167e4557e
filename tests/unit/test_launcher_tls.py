"""`mercato up --tls`: the development CA, the certificates, and the environment they give.

The certificates are checked with `ssl` itself: a real handshake between a server
holding a service's certificate and a client trusting the CA and presenting another
service's, in memory (`ssl.MemoryBIO`), so that what OpenSSL accepts is what is tested.
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest

from mercato.chassis.config import ServiceSettings, load_settings
from mercato.launcher.certificates import LAUNCHER, development_certificates
from mercato.launcher.cli import main
from mercato.launcher.errors import LauncherError
from mercato.launcher.options import build_layout
from mercato.launcher.topology import SERVICES, Layout, service

NAMES = [s.name for s in SERVICES]


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> None:
    """A whole TLS handshake between the two contexts in memory; raises ssl.SSLError."""
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    server_side = server.wrap_bio(pipes[0], pipes[1], server_side=True)
    client_side = client.wrap_bio(pipes[2], pipes[3], server_hostname=hostname)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side, outgoing, incoming in (
            ("client", client_side, pipes[3], pipes[0]),
            ("server", server_side, pipes[1], pipes[2]),
        ):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            incoming.write(outgoing.read())
        if all(done.values()):
            client_side.write(b"ping")  # data both ways: each side has accepted the other
            pipes[0].write(pipes[3].read())
            assert server_side.read(4) == b"ping"
            return
    raise AssertionError("the handshake did not finish")


def _server(directory: Path, name: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / f"{name}.pem", directory / f"{name}-key.pem")
    context.load_verify_locations(directory / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _client(directory: Path, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    context.load_cert_chain(directory / f"{name}.pem", directory / f"{name}-key.pem")
    return context


def test_every_service_gets_a_certificate_its_peers_and_the_probes_accept(tmp_path: Path) -> None:
    files = development_certificates(tmp_path / "tls", NAMES)
    for hostname in ("127.0.0.1", "localhost", "::1", "catalog"):
        _handshake(
            _server(files.directory, "catalog"), _client(files.directory, "orders"), hostname
        )
    _handshake(_server(files.directory, "auth"), _client(files.directory, LAUNCHER), "127.0.0.1")
    # each is also what the services' settings accept
    settings = load_settings(
        ServiceSettings,
        "users",
        {
            "MERCATO_USERS_TLS_CERTFILE": str(files.certificate("users")),
            "MERCATO_USERS_TLS_KEYFILE": str(files.key("users")),
            "MERCATO_USERS_TLS_CA_FILE": str(files.ca),
            "MERCATO_USERS_AUTH_URL": "https://127.0.0.1:8110",
        },
    )
    assert settings.tls_clients_ca == str(files.ca)


def test_a_certificate_is_not_valid_for_another_host(tmp_path: Path) -> None:
    files = development_certificates(tmp_path / "tls", NAMES)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(
            _server(files.directory, "catalog"), _client(files.directory, "orders"), "example.com"
        )


def test_a_client_without_a_certificate_of_the_ca_is_refused(tmp_path: Path) -> None:
    files = development_certificates(tmp_path / "tls", NAMES)
    other = development_certificates(tmp_path / "other", NAMES)  # another CA
    rogue = ssl.create_default_context(cafile=str(files.ca))
    rogue.load_cert_chain(other.certificate("orders"), other.key("orders"))
    anonymous = ssl.create_default_context(cafile=str(files.ca))
    for client in (rogue, anonymous):
        with pytest.raises(ssl.SSLError):
            _handshake(_server(files.directory, "catalog"), client, "127.0.0.1")


def test_the_files_are_owner_only(tmp_path: Path) -> None:
    files = development_certificates(tmp_path / "tls", NAMES)
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    paths = list(files.directory.iterdir())
    assert len(paths) == 2 * (len(NAMES) + 2)  # every service, the launcher and the CA
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in paths} == {oct(0o600)}


def test_they_are_kept_across_restarts_and_made_again_when_gone(tmp_path: Path) -> None:
    files = development_certificates(tmp_path / "tls", NAMES)
    before = {p.name: p.read_bytes() for p in files.directory.iterdir()}
    files.key("users").chmod(0o644)

    development_certificates(tmp_path / "tls", NAMES)
    assert {p.name: p.read_bytes() for p in files.directory.iterdir()} == before
    assert stat.S_IMODE(files.key("users").stat().st_mode) == 0o600

    files.key("users").unlink()
    development_certificates(tmp_path / "tls", NAMES)
    assert files.certificate("users").read_bytes() != before["users.pem"]
    assert files.ca.read_bytes() == before["ca.pem"]
    _handshake(_server(files.directory, "users"), _client(files.directory, "gateway"), "localhost")


def test_a_new_ca_issues_every_certificate_again(tmp_path: Path) -> None:
    files = development_certificates(tmp_path / "tls", NAMES)
    files.ca_key.unlink()
    development_certificates(tmp_path / "tls", NAMES)
    _handshake(_server(files.directory, "auth"), _client(files.directory, "users"), "127.0.0.1")


def test_the_layout_gives_every_process_https_urls_and_its_certificate() -> None:
    layout = Layout(port=8000, data_dir=Path("/data"), replicas={"catalog": 2}, tls=True)
    orders = layout.instances(service("orders"))[0]
    env = layout.env(orders)
    assert env["MERCATO_AUTH_URL"] == "https://127.0.0.1:8110"
    assert env["MERCATO_ORDERS_CATALOG_URL"] == "https://127.0.0.1:8130,https://127.0.0.1:8131"
    assert env["MERCATO_ORDERS_TLS_CERTFILE"] == "/data/tls/orders.pem"
    assert env["MERCATO_ORDERS_TLS_KEYFILE"] == "/data/tls/orders-key.pem"
    assert env["MERCATO_ORDERS_TLS_CA_FILE"] == "/data/tls/ca.pem"
    gateway = layout.env(layout.instances(service("gateway"))[0])
    assert gateway["MERCATO_GATEWAY_TLS_CERTFILE"] == "/data/tls/gateway.pem"
    upstreams = gateway["MERCATO_GATEWAY_UPSTREAMS"].split(",")
    assert all("=https://" in pair for pair in upstreams)
    plain = Layout(port=8000, data_dir=Path("/data")).env(orders)
    assert not any(name.endswith(("_TLS_CERTFILE", "_TLS_CA_FILE")) for name in plain)


def test_tls_is_asked_for_by_the_flag_or_the_variable() -> None:
    assert build_layout(tls=True, environ={}).tls
    assert build_layout(environ={"MERCATO_TLS": "true"}).tls
    assert not build_layout(environ={"MERCATO_TLS": "0"}).tls
    assert not build_layout(environ={}).tls
    with pytest.raises(LauncherError, match=r"^MERCATO_TLS: must be true or false, got 'maybe'$"):
        build_layout(environ={"MERCATO_TLS": "maybe"})


def test_the_tls_flag_is_in_the_up_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--help"]) == 0
    assert "--tls" in capsys.readouterr().out


def test_the_certificates_command_writes_what_compose_mounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certificates", str(tmp_path / "tls")]) == 0
    assert f"CA: {tmp_path / 'tls' / 'ca.pem'}" in capsys.readouterr().out
    for name in NAMES:
        _handshake(_server(tmp_path / "tls", name), _client(tmp_path / "tls", LAUNCHER), name)
