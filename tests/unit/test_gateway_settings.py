"""Unit tests of the gateway's settings: value formats and one-line errors."""

from __future__ import annotations

import pytest

from mercato.chassis.config import SettingsError, load_settings
from mercato.gateway.settings import GatewaySettings, parse_route_timeouts, parse_upstreams


def _load(**environ: str) -> GatewaySettings:
    return load_settings(GatewaySettings, "gateway", environ)


def test_upstreams_from_the_environment() -> None:
    settings = _load(
        MERCATO_GATEWAY_UPSTREAMS=(
            "auth=http://127.0.0.1:8110, catalog=http://127.0.0.1:8130|http://127.0.0.1:8131/"
        )
    )
    assert settings.pools() == {
        "auth": ("http://127.0.0.1:8110",),
        "catalog": ("http://127.0.0.1:8130", "http://127.0.0.1:8131"),
    }


def test_default_upstreams_follow_the_port_conventions() -> None:
    pools = _load(MERCATO_GATEWAY_PORT="9000").pools()
    assert pools["auth"] == ("http://127.0.0.1:9110",)
    assert pools["logs"] == ("http://127.0.0.1:9160",)
    assert pools["web"] == ("http://127.0.0.1:9170",)
    assert set(pools) == {
        "auth",
        "users",
        "catalog",
        "orders",
        "payments",
        "logs",
        "web",
        "shipping",
        "notifications",
    }


@pytest.mark.parametrize(
    "value",
    [
        "catalog",
        "catalog=",
        "Catalog=http://h:1",
        "catalog=ftp://h:1",
        "catalog=http://h:1/api",
        "catalog=http://h:notaport",
        "catalog=http://h:1,catalog=http://h:2",
        "catalog=http://h:1|http://h:1",
    ],
)
def test_bad_upstreams_are_a_one_line_error(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(MERCATO_GATEWAY_UPSTREAMS=value)
    message = str(caught.value)
    assert message.startswith("MERCATO_GATEWAY_UPSTREAMS:")
    assert "\n" not in message


def test_route_timeouts() -> None:
    assert parse_route_timeouts("/api/catalog/products/import=60, /api/orders=15.5") == {
        "/api/catalog/products/import": 60.0,
        "/api/orders": 15.5,
    }
    for bad in ("api/x=1", "/api/x=soon", "/api/x=0", "/api/x"):
        with pytest.raises(ValueError):
            parse_route_timeouts(bad)
    with pytest.raises(SettingsError, match="MERCATO_ROUTE_TIMEOUTS"):
        _load(MERCATO_ROUTE_TIMEOUTS="/x=-1")


def test_lists_and_their_validation() -> None:
    settings = _load(
        MERCATO_GATEWAY_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1",
        MERCATO_GATEWAY_CORS_ORIGINS="https://shop.example.com,http://localhost:3000",
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert settings.cors_origins == ("https://shop.example.com", "http://localhost:3000")
    with pytest.raises(SettingsError, match="MERCATO_GATEWAY_TRUSTED_PROXIES"):
        _load(MERCATO_GATEWAY_TRUSTED_PROXIES="10.0.0.300")
    with pytest.raises(SettingsError, match="MERCATO_GATEWAY_CORS_ORIGINS"):
        _load(MERCATO_GATEWAY_CORS_ORIGINS="shop.example.com")


def test_mappings_are_accepted_from_code() -> None:
    assert parse_upstreams({"auth": ["http://a:1", "http://b:2"]}) == {
        "auth": ("http://a:1", "http://b:2")
    }
