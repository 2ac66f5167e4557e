"""Unit tests of the gateway's routing table, balancing and client addresses."""

from __future__ import annotations

from mercato.gateway.headers import ClientAddresses
from mercato.gateway.routing import JWKS_PATH, Pool, RouteTable


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _picks(pool: Pool, count: int) -> list[str]:
    picked = [pool.pick() for _ in range(count)]
    return [i.url.removeprefix("http://") for i in picked if i is not None]


def test_round_robin_skips_instances_marked_down_until_they_recover() -> None:
    clock = Clock()
    pool = Pool("catalog", ["http://a", "http://b", "http://c"], down_seconds=2, clock=clock)
    assert _picks(pool, 4) == ["a", "b", "c", "a"]
    pool.mark_down(pool.instances[1])
    assert _picks(pool, 4) == ["c", "a", "c", "a"]
    clock.now += 2.5
    assert sorted(_picks(pool, 3)) == ["a", "b", "c"]


def test_when_every_instance_is_down_they_are_still_offered() -> None:
    clock = Clock()
    pool = Pool("catalog", ["http://a", "http://b"], clock=clock)
    for instance in pool.instances:
        pool.mark_down(instance)
    assert pool.pick() is not None


def test_a_retry_excludes_tried_instances_without_moving_the_rotation() -> None:
    pool = Pool("catalog", ["http://a", "http://b"])
    first = pool.pick()
    assert first is not None
    second = pool.pick([first])
    assert second is not None and second is not first
    assert pool.pick([first, second]) is None
    assert pool.pick() is second  # the rotation moved once


def test_routes_by_service_segment_with_timeout_overrides() -> None:
    table = RouteTable(
        {"catalog": ["http://c"], "auth": ["http://a"]},
        default_timeout=10,
        route_timeouts={"/api/catalog/products/import": 60, "/api/catalog": 20, "/api/x": 1},
    )
    catalog = table.match("/api/catalog/products/1")
    assert catalog is not None and catalog.service == "catalog"
    assert table.match("/api/catalog") is catalog
    assert table.match("/api/catalogue/x") is None
    assert table.match("/api/") is None
    assert catalog.timeout_for("/api/catalog/products/import") == 60
    assert catalog.timeout_for("/api/catalog/products") == 20
    auth = table.match("/api/auth/login")
    assert auth is not None and auth.timeout_for("/api/auth/login") == 10
    jwks = table.match(JWKS_PATH)
    assert jwks is not None and jwks.pool is auth.pool
    assert table.handles("/api/anything") and table.handles(JWKS_PATH)
    assert not table.handles("/health") and not table.handles("/apix")


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    untrusting = ClientAddresses()
    assert untrusting.client("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    trusting = ClientAddresses(["10.0.0.0/8"])
    assert trusting.client("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert trusting.client("10.0.0.2", "1.2.3.4, 10.0.0.7") == "1.2.3.4"
    assert trusting.client("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.7") == "1.2.3.4"
    assert trusting.client("10.0.0.2", "10.0.0.3") == "10.0.0.2"
    assert trusting.client("10.0.0.2", "garbage") == "garbage"
