"""Unit tests of the gateway's routing table (balancing: test_balancing; client addresses:
test_chassis_client_addresses)."""

from __future__ import annotations

from mercato.gateway.routing import JWKS_PATH, RoutePatterns, RouteTable


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


def test_route_patterns_match_method_and_segments() -> None:
    patterns = RoutePatterns(["POST /api/orders", "POST /api/payments/*/refunds", "* /api/x/y"])
    assert patterns.match("POST", "/api/orders")
    assert patterns.match("POST", "/api/payments/p1/refunds")
    assert patterns.match("GET", "/api/x/y") and patterns.match("DELETE", "/api/x/y")
    assert not patterns.match("GET", "/api/orders")  # another method
    assert not patterns.match("POST", "/api/orders/o1")  # a longer path
    assert not patterns.match("POST", "/api/payments/p1/x/refunds")  # * is one segment
    assert not patterns.match("POST", "/api/ordersx")
    assert not RoutePatterns([]) and patterns


def test_with_a_storefront_every_other_path_is_a_page() -> None:
    table = RouteTable(
        {"auth": ["http://a"], "web": ["http://w1", "http://w2"]},
        default_timeout=10,
        route_timeouts={"/checkout": 30, "/api/auth": 5},
    )
    pages = table.pages
    assert pages is not None and pages.service == "web"
    for path in ("/", "/login", "/static/shop.css", "/apix", "/api", "/healthz", "/no/such"):
        assert table.handles(path), path
        assert table.match(path) is pages, path
        assert RouteTable.is_page(path), path
    for own in ("/health", "/health/live", "/health/ready", "/metrics", "/asyncapi.json"):
        assert not table.handles(own) and not RouteTable.is_page(own), own
    assert table.match("/api/web/anything") is None  # the storefront is no API service
    assert table.match("/api/nosuch/x") is None and not RouteTable.is_page("/api/nosuch/x")
    assert table.match(JWKS_PATH) is table.jwks and not RouteTable.is_page(JWKS_PATH)
    assert pages.timeout_for("/checkout/pay") == 30 and pages.timeout_for("/") == 10
    assert [i.url for i in pages.pool.instances] == ["http://w1", "http://w2"]
    assert pages.pool in table.pools()


def test_without_a_storefront_only_the_api_is_proxied() -> None:
    table = RouteTable({"auth": ["http://a"]}, default_timeout=10)
    assert table.pages is None
    assert not table.handles("/") and not table.handles("/login")
    assert table.match("/") is None
