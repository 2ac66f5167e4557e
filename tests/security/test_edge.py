"""The gateway's edge under abuse: slow clients, huge heads, smuggling-shaped headers.

Every attack goes to the real gateway of `mercato up` over raw sockets (an HTTP
client would refuse to send most of them), the attacker from 127.0.0.2 so that the
gateway sees it as another client than the customer on 127.0.0.1. The e2e system's
gateway cuts slow clients off after seconds (`tests.e2e.system.EDGE_ENV`), not its
defaults' tens of seconds; the broker does not matter here, so only the NATS system
runs these.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.client import (
    EDGE_BODY_TIMEOUT,
    EDGE_HEAD_TIMEOUT,
    EDGE_KEEPALIVE_TIMEOUT,
    Account,
    Shop,
    System,
)
from tests.support.wire import ATTACKER, Wire, get, request

pytestmark = pytest.mark.parametrize("system", ["nats"], indirect=True)

MARGIN = 10.0  # how much later than its bound a cut may come on a loaded machine
PER_CLIENT = 256  # the gateway's default bound of connections per client address


def _peak_kib(pid: int) -> int:
    """The peak resident memory of process `pid` (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def test_a_slowloris_is_cut_off_while_others_are_served(system: System, shop: Shop) -> None:
    half_a_head = b"GET /api/catalog/products HTTP/1.1\r\nHost: shop.test\r\nX-Slow: "
    wires = [Wire(system.port, source=ATTACKER) for _ in range(PER_CLIENT + 44)]
    try:
        for wire in wires:
            wire.send(half_a_head)
        served = [shop.http.get("/api/catalog/products?limit=1").status_code for _ in range(20)]
        deadline = time.monotonic() + EDGE_HEAD_TIMEOUT + MARGIN  # one wait for them all
        cut = [wire.closed_by_peer(max(0.0, deadline - time.monotonic())) for wire in wires]
    finally:
        for wire in wires:
            wire.close()
    assert served == [200] * 20
    assert all(cut), f"{cut.count(False)} slow connections were still open"
    statuses = [wire.buffer[:12] for wire in wires]
    assert statuses.count(b"HTTP/1.1 408") == PER_CLIENT  # the head came too slowly
    assert statuses.count(b"HTTP/1.1 503") == 44  # beyond the bound of one address


def test_a_connection_that_sends_nothing_is_closed(system: System) -> None:
    wire = Wire(system.port, source=ATTACKER)
    try:
        assert wire.closed_by_peer(EDGE_HEAD_TIMEOUT + MARGIN)
    finally:
        wire.close()
    assert wire.buffer == b""


def test_an_idle_keep_alive_connection_is_closed(system: System) -> None:
    wire = Wire(system.port)
    try:
        wire.send(get("/health"))
        assert wire.answer().status == 200
        assert wire.closed_by_peer(EDGE_KEEPALIVE_TIMEOUT + MARGIN)
    finally:
        wire.close()


def test_a_body_that_stops_is_408_and_never_forwarded(system: System, customer: Account) -> None:
    # The body sent is valid JSON on its own: forwarded as if whole, it would act.
    sent = b'{"bio": "half a body"}'
    head = (
        "PATCH /api/users/me HTTP/1.1\r\nHost: shop.test\r\n"
        f"Authorization: Bearer {customer.access}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(sent) + 10}\r\n\r\n"
    ).encode()
    wire = Wire(system.port, timeout=EDGE_BODY_TIMEOUT + MARGIN)
    try:
        wire.send(head + sent)
        answer = wire.answer()
    finally:
        wire.close()
    assert answer.status == 408
    assert answer.header("connection") == "close"
    assert "body" in answer.problem()["detail"]
    wire = Wire(system.port)
    try:
        wire.send(get("/api/users/me", f"Authorization: Bearer {customer.access}"))
        profile = wire.answer()
    finally:
        wire.close()
    assert b"half a body" not in profile.body


@pytest.mark.parametrize(
    ("attack", "status", "detail"),
    [
        (get("/health", "X-Big: " + "a" * 1_048_576), 431, "too large"),
        (get("/health", "X-Big: " + "a" * 9000), 431, "A request header is too large"),
        (get("/health", *[f"X-H{i}: {'b' * 4000}" for i in range(12)]), 431, "head is too large"),
        (get("/health", *[f"X-H{i}: c" for i in range(150)]), 431, "too many headers"),
        (get("/api/catalog/products?q=" + "d" * 20_000), 414, "target is too long"),
        (b"GET /health\r\n\r\n", 400, "HTTP/0.9"),
    ],
    ids=[
        "one-huge-header",
        "one-large-header",
        "a-huge-head",
        "many-headers",
        "long-target",
        "http-0.9",
    ],
)
def test_an_oversized_or_versionless_head_is_refused(
    system: System, attack: bytes, status: int, detail: str
) -> None:
    answer = request(system.port, attack, source=ATTACKER)
    assert answer.status == status
    assert detail in answer.problem()["detail"]
    assert answer.header("connection") == "close"


def test_huge_headers_at_once_do_not_grow_the_gateway(system: System) -> None:
    gateway = system.pid("gateway-1")
    assert gateway is not None
    before = _peak_kib(gateway)
    huge = get("/api/catalog/products", "X-Big: " + "e" * (32 << 20))

    sent_whole: list[bool] = []

    def attack() -> None:
        wire = Wire(system.port, source=ATTACKER)
        try:
            wire.send(huge)
            sent_whole.append(True)
        except OSError:
            sent_whole.append(False)  # refused, and reset once its budget was read
        finally:
            wire.close()

    threads = [threading.Thread(target=attack) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 8 x 32 MiB took the gateway from ~110 MiB to 1 GB before it bounded the head.
    assert _peak_kib(gateway) - before < 64 * 1024
    # Nor does it read what follows a refused head for long: not 32 MiB of it.
    assert sent_whole == [False] * 8


@pytest.mark.parametrize("name", ["Authorization", "Content-Length", "Host", "Idempotency-Key"])
def test_a_repeated_single_valued_header_is_400(system: System, name: str) -> None:
    values = {"Authorization": "Bearer a", "Content-Length": "2", "Host": "shop.test"}
    value = values.get(name, "k1")
    attack = (
        f"POST /api/orders HTTP/1.1\r\nHost: shop.test\r\nContent-Type: application/json\r\n"
        f"{name}: {value}\r\n{name}: {value.replace('a', 'b').replace('1', '2')}\r\n"
        + ("" if name == "Content-Length" else "Content-Length: 2\r\n")
        + "\r\n{}"
    ).encode()
    for port in (system.port, system.port + 140):  # the gateway, and orders direct
        answer = request(port, attack, source=ATTACKER)
        assert answer.status == 400, (port, answer)
        assert answer.problem()["title"] == "Bad Request"


def test_an_oversized_body_is_a_413_the_client_can_read(system: System) -> None:
    # urllib writes the whole body before it reads: a gateway that closes at once
    # leaves it a connection reset instead of the answer.
    body = b"{" + b" " * (8 << 20) + b"}"
    sent = urllib.request.Request(
        f"{system.base_url}/api/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(sent, timeout=30)
    assert refused.value.code == 413
    assert refused.value.headers["Content-Type"] == "application/problem+json"
    assert b"exceeds" in refused.value.read()


def test_a_trailing_slash_is_404_and_names_no_internal_port(system: System) -> None:
    orders = system.port + 140
    tries = [(system.port, path) for path in ("/api/orders/", "/api/catalog/products/")]
    tries.append((orders, "/api/orders/"))  # the same direct: the 307 came from here
    for port, path in tries:
        answer = request(port, get(path))
        assert answer.status == 404, (port, path)
        assert answer.header("location") is None
        assert str(orders) not in answer.body.decode()


def test_no_answer_names_an_internal_host_or_port(system: System, shop: Shop) -> None:
    offsets = (110, 120, 130, 131, 140, 150, 160, 170)
    internal = [str(system.port + offset) for offset in offsets]
    answers = [
        shop.http.get("/health"),
        shop.http.get("/"),
        shop.http.get("/no/such/page"),
        shop.http.get("/login/"),
        shop.http.get("/api/nowhere"),
        shop.http.get("/api/orders/"),
        shop.http.delete("/api/users/me"),
        shop.http.get("/api/catalog/products/nope"),
    ]
    for answer in answers:
        shown = answer.text + "".join(f"{k}: {v}" for k, v in answer.headers.items())
        assert not any(port in shown for port in internal), (answer.request.url, shown)


def test_operator_paths_are_on_the_operator_port_only(system: System, shop: Shop) -> None:
    operator = system.port + 100
    public_metrics = shop.http.get("/metrics")
    public_health = shop.http.get("/health")
    metrics = request(operator, get("/metrics"))
    health = request(operator, get("/health"))
    assert public_metrics.status_code == 404
    assert public_metrics.headers["content-type"] == "application/problem+json"
    assert set(public_health.json()["services"]["catalog"]) == {"status"}
    assert "127.0.0.1" not in public_health.text
    assert metrics.status == 200 and b"gateway_rejected_total" in metrics.body
    assert b'"instances"' in health.body and b"127.0.0.1" in health.body


def test_personal_answers_are_never_stored(shop: Shop, customer: Account) -> None:
    personal = [
        shop.http.get("/api/users/me", headers=customer.headers),
        shop.http.get("/api/auth/me", headers=customer.headers),
        shop.http.get("/api/orders/cart", headers=customer.headers),
        shop.http.get("/api/orders", headers=customer.headers),
        shop.http.get("/api/payments/methods", headers=customer.headers),
        shop.http.post(
            "/api/auth/login", json={"email": customer.email, "password": customer.password}
        ),
    ]
    for answer in personal:
        assert answer.status_code == 200, answer.text
        assert answer.headers.get_list("cache-control") == ["no-store"], answer.request.url


def test_a_405_allows_every_method_the_path_serves(shop: Shop, customer: Account) -> None:
    answer = shop.http.delete("/api/users/me", headers=customer.headers)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD, PATCH"
