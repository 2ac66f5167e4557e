"""Unit tests of the one rule for forwarding headers (`chassis.security.client_addresses`)."""

from __future__ import annotations

import pytest

from mercato.chassis.config import ServiceSettings, SettingsError, load_settings
from mercato.chassis.security.client_addresses import ClientAddresses, parse_networks


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    untrusting = ClientAddresses()
    assert untrusting.client("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    trusting = ClientAddresses(["10.0.0.0/8"])
    assert trusting.client("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert trusting.client("10.0.0.2", "1.2.3.4, 10.0.0.7") == "1.2.3.4"
    assert trusting.client("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.7") == "1.2.3.4"
    assert trusting.client("10.0.0.2", "10.0.0.3") == "10.0.0.2"
    assert trusting.client("10.0.0.2", "garbage") == "garbage"


def test_a_proven_peer_is_trusted_whatever_its_address() -> None:
    """Behind the gateway: the gateway's token, not loopback, makes its header believed."""
    local = ClientAddresses()
    assert local.client("127.0.0.1", "198.51.100.4", peer_trusted=False) == "127.0.0.1"
    assert local.client("127.0.0.1", "198.51.100.4", peer_trusted=True) == "198.51.100.4"
    # The client's own left-most entries never count: the right-most untrusted one does.
    assert local.client("127.0.0.1", "6.6.6.6, 198.51.100.4", peer_trusted=True) == "198.51.100.4"
    # Hops before the gateway are judged by the networks, as the gateway judged them.
    ingress = ClientAddresses(["10.0.0.0/8"])
    chain = "6.6.6.6, 198.51.100.4, 10.1.2.3"
    assert ingress.client("10.9.9.9", chain, peer_trusted=True) == "198.51.100.4"
    # An address in a trusted network that did not prove itself is still the client.
    assert ingress.client("10.9.9.9", chain, peer_trusted=False) == "10.9.9.9"


def test_a_long_entry_is_cut_to_a_bounded_key() -> None:
    assert len(ClientAddresses().client("p", "x" * 5000, peer_trusted=True)) == 100


def test_trusted_proxies_are_a_chassis_setting_naming_a_bad_network() -> None:
    settings = load_settings(
        ServiceSettings, "auth", {"MERCATO_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(SettingsError, match="MERCATO_GATEWAY_TRUSTED_PROXIES: 'nope'"):
        load_settings(ServiceSettings, "gateway", {"MERCATO_GATEWAY_TRUSTED_PROXIES": "nope"})
    assert parse_networks(["192.0.2.1"])[0].num_addresses == 1
