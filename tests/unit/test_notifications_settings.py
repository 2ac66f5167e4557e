"""Unit tests of the notifications' settings: the SMTP URL, the sender, production's rule."""

from __future__ import annotations

import pytest

from mercato.chassis.config import SettingsError
from mercato.notifications.mail import Outgoing, build_message, parse_smtp_url
from mercato.notifications.settings import load_settings


def test_smtp_urls_are_parsed() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.implicit_tls) == ("mail.example.com", 25, False)
    assert plain.username is None and plain.password is None
    assert not plain.requires_starttls
    tls = parse_smtp_url("smtps://postmaster%40shop:p%3Ass%2Fw@mail.example.com")
    assert (tls.port, tls.implicit_tls) == (465, True)
    assert (tls.username, tls.password) == ("postmaster@shop", "p:ss/w")
    assert not tls.requires_starttls  # TLS from the first byte already
    submission = parse_smtp_url("smtp://user:secret@mail.example.com:587")
    assert submission.port == 587 and submission.requires_starttls
    assert "secret" not in repr(submission)
    local = parse_smtp_url("smtp://user:secret@127.0.0.1:2525")
    assert not local.requires_starttls  # the loopback never leaves the machine
    ipv6 = parse_smtp_url("smtp://[::1]:2525")
    assert (ipv6.host, ipv6.port) == ("::1", 2525)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://mail.example.com", "smtp:// or smtps://"),
        ("mail.example.com:25", "smtp:// or smtps://"),
        ("smtp://", "must name a host"),
        ("smtp://:25", "must name a host"),
        ("smtp://mail.example.com:99999", "invalid port"),
        ("smtp://mail.example.com:0", "invalid port"),
        ("smtp://mail.example.com:x", "invalid port"),
        ("smtp://mail.example.com/inbox", "nothing after the port"),
        ("smtp://mail.example.com?tls=1", "nothing after the port"),
    ],
)
def test_bad_smtp_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_smtp_url(url)


def test_settings_name_the_variable_in_one_line() -> None:
    with pytest.raises(SettingsError) as bad:
        load_settings({"MERCATO_NOTIFICATIONS_SMTP_URL": "http://mail:25"})
    message = str(bad.value)
    assert message.startswith("MERCATO_NOTIFICATIONS_SMTP_URL: must start with smtp://")
    assert "\n" not in message and "http://mail" not in message  # a URL may hold a password
    with pytest.raises(SettingsError, match="MERCATO_NOTIFICATIONS_SHOP_URL"):
        load_settings({"MERCATO_NOTIFICATIONS_SHOP_URL": "shop.example.com"})
    with pytest.raises(SettingsError, match="MERCATO_NOTIFICATIONS_FROM_ADDRESS"):
        load_settings({"MERCATO_NOTIFICATIONS_FROM_ADDRESS": "nobody"})
    with pytest.raises(SettingsError, match="MERCATO_NOTIFICATIONS_FROM: must be one line"):
        load_settings({"MERCATO_NOTIFICATIONS_FROM": "a@example.com\nBcc: b@example.com"})
    with pytest.raises(SettingsError, match="MERCATO_NOTIFICATIONS_SMTP_CA_FILE: no such file"):
        load_settings({"MERCATO_NOTIFICATIONS_SMTP_CA_FILE": "/nonexistent/ca.pem"})


def test_production_requires_a_mail_server() -> None:
    production = {
        "MERCATO_ENV": "production",
        "MERCATO_CLIENT_SECRET": "kV3x9Qm2Lr7Tz4Wp8Ys1Bn6Hd5Jf0Gc",
    }
    assert load_settings({**production, "MERCATO_SMTP_URL": "smtps://mx.example.com"}).smtp_url
    with pytest.raises(SettingsError) as missing:
        load_settings(production)
    assert str(missing.value).startswith(
        "MERCATO_NOTIFICATIONS_SMTP_URL: is required in production"
    )
    with pytest.raises(SettingsError, match="SMTP_URL"):  # a placeholder password
        load_settings({**production, "MERCATO_SMTP_URL": "smtp://u:changeme@mx"})
    development = load_settings({})
    assert development.smtp_url == "" and development.shop_name == "Mercato"
    assert development.shop_url == "http://127.0.0.1:8000"


def test_a_message_has_both_bodies_and_a_stable_id() -> None:
    mail = Outgoing(
        to_name="Ada Lovelace",
        to_address="ada@example.com",
        subject="Hello",
        text="plain words",
        html="<p>marked up</p>",
        message_id="<e1.order_confirmed@example.com>",
    )
    message = build_message(mail, sender="Shop <shop@example.com>")
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Message-ID"] == "<e1.order_confirmed@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and "plain words" in text.get_content()
    assert html.get_content_type() == "text/html"
