"""Unit tests of auth's settings and the lenient email normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mercato.auth.passwords import Passwords
from mercato.auth.schemas import normalize_email
from mercato.auth.settings import KNOWN_SERVICES, load_settings, parse_clients
from mercato.chassis.config import SettingsError

PRODUCTION = {
    "MERCATO_ENV": "production",
    "MERCATO_CLIENT_SECRET": "7f3c9e2a1b8d4f6e0a5c",
    "MERCATO_AUTH_SIGNING_KEY_PASSPHRASE": "b41e6c0f9d2a7e3b58c1",
}


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.service == "auth"
    assert settings.port == 8110
    assert settings.access_ttl_seconds == 900
    assert settings.refresh_ttl_seconds == 30 * 86_400
    assert settings.login_max_failures_per_account_source == 5
    assert settings.login_max_failures_per_source == 20
    assert settings.login_max_failures_per_account == 100
    assert settings.login_account_slowdown_seconds == 2.0
    assert settings.login_window_seconds == 300
    assert settings.key_retention == 900 + 300


def test_clients_are_parsed_from_the_environment() -> None:
    settings = load_settings({"MERCATO_AUTH_CLIENTS": "users:s1, catalog:s:2 ,,gateway:s3"})
    assert settings.clients == {"users": "s1", "catalog": "s:2", "gateway": "s3"}
    assert settings.client_secrets() == settings.clients


def test_without_clients_the_known_services_use_the_shared_secret() -> None:
    settings = load_settings({"MERCATO_CLIENT_SECRET": "shared-secret"})
    assert settings.client_secrets() == dict.fromkeys(KNOWN_SERVICES, "shared-secret")


@pytest.mark.parametrize("value", ["users", "users:", ":secret", "users:s1,catalog"])
def test_bad_clients_name_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="MERCATO_AUTH_CLIENTS"):
        load_settings({"MERCATO_AUTH_CLIENTS": value})
    with pytest.raises(ValueError, match="client_id:secret"):
        parse_clients(value)


def test_admin_comes_from_the_shared_variables() -> None:
    settings = load_settings(
        {"MERCATO_ADMIN_EMAIL": "boss@example.com", "MERCATO_ADMIN_PASSWORD": "Sh4red-secret"}
    )
    assert (settings.admin_email, settings.admin_password) == (
        "boss@example.com",
        "Sh4red-secret",
    )
    specific = load_settings(
        {"MERCATO_ADMIN_EMAIL": "boss@example.com", "MERCATO_AUTH_ADMIN_EMAIL": "a@example.com"}
    )
    assert specific.admin_email == "a@example.com"


def test_the_old_per_client_variable_still_sets_the_per_source_limit() -> None:
    old = load_settings({"MERCATO_AUTH_LOGIN_MAX_FAILURES_PER_CLIENT": "7"})
    assert old.login_max_failures_per_source == 7
    both = {
        "MERCATO_AUTH_LOGIN_MAX_FAILURES_PER_CLIENT": "7",
        "MERCATO_LOGIN_MAX_FAILURES_PER_SOURCE": "9",
    }
    assert load_settings(both).login_max_failures_per_source == 9
    with pytest.raises(SettingsError, match="MERCATO_AUTH_LOGIN_MAX_FAILURES_PER_CLIENT"):
        load_settings({"MERCATO_AUTH_LOGIN_MAX_FAILURES_PER_CLIENT": "0"})


def test_production_refuses_development_client_secrets() -> None:
    with pytest.raises(SettingsError, match="MERCATO_AUTH_CLIENTS: the secret of 'users'"):
        load_settings({**PRODUCTION, "MERCATO_AUTH_CLIENTS": "users:dev-users-secret-long"})
    with pytest.raises(SettingsError, match=r"MERCATO_AUTH_CLIENTS: .* at least 16"):
        load_settings({**PRODUCTION, "MERCATO_AUTH_CLIENTS": "users:short-real"})
    clients = "users:0d9e8a7b6c5f4e3d2c1b"
    assert load_settings({**PRODUCTION, "MERCATO_AUTH_CLIENTS": clients}).clients


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        # The placeholders of deploy/.env.example and deploy/k8s/secret.yaml.
        ("MERCATO_AUTH_SIGNING_KEY_PASSPHRASE", "CHANGE-ME", "placeholder"),
        ("MERCATO_AUTH_SIGNING_KEY_PASSPHRASE", "dev-change-me", "placeholder"),
        ("MERCATO_AUTH_SIGNING_KEY_PASSPHRASE", "", "must be set"),
        ("MERCATO_AUTH_SIGNING_KEY_PASSPHRASE", "short-but-real", "at least 16"),
        ("MERCATO_ADMIN_PASSWORD", "dev-change-me", "placeholder"),
        ("MERCATO_ADMIN_PASSWORD", "dev-CHANGE-ME", "placeholder"),
        ("MERCATO_ADMIN_PASSWORD", "password123", "most common"),
        ("MERCATO_ADMIN_PASSWORD", "boss-Secret-42", "email"),
        ("MERCATO_CLIENT_SECRET", "dev-CHANGE-ME-auth", "placeholder"),
        ("MERCATO_AUTH_CLIENT_SECRET", "Change_Me_Please_Now!", "placeholder"),
        (
            "MERCATO_AUTH_DATABASE_URL",
            "postgresql+asyncpg://auth:CHANGE-ME@postgres:5432/auth",
            "password in the URL",
        ),
    ],
)
def test_production_refuses_placeholders_and_weak_secrets(
    variable: str, value: str, why: str
) -> None:
    environ = {**PRODUCTION, "MERCATO_ADMIN_EMAIL": "boss@example.com", variable: value}
    with pytest.raises(SettingsError) as refused:
        load_settings(environ)
    message = str(refused.value)
    assert message.startswith(f"{variable}: ") and why in message
    assert "\n" not in message
    if value:
        assert value not in message.removeprefix(variable)  # never echoes the secret
    # Outside production the same values start (development warns instead).
    assert load_settings({**environ, "MERCATO_ENV": "development"})


def test_production_accepts_real_secrets() -> None:
    settings = load_settings(
        {
            **PRODUCTION,
            "MERCATO_ADMIN_EMAIL": "boss@example.com",
            "MERCATO_ADMIN_PASSWORD": "Tr0ub4dor&3-horse",
            "MERCATO_AUTH_DATABASE_URL": "postgresql+asyncpg://auth:9f8e7d6c5b4a39281706@db/auth",
            "MERCATO_REDIS_URL": "redis://redis:6379/0",
        }
    )
    assert settings.env == "production" and not settings.secret_problems()


def test_production_refuses_cheap_password_hashing() -> None:
    with pytest.raises(SettingsError, match="MERCATO_AUTH_PASSWORD_MEMORY_KIB"):
        load_settings({**PRODUCTION, "MERCATO_AUTH_PASSWORD_MEMORY_KIB": "1024"})
    assert load_settings({"MERCATO_AUTH_PASSWORD_MEMORY_KIB": "64"}).password_memory_kib == 64


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"MERCATO_AUTH_PASSWORD_MEMORY_KIB": "31"}, "MERCATO_AUTH_PASSWORD_PARALLELISM"),
        ({"MERCATO_AUTH_PASSWORD_PARALLELISM": "65"}, "MERCATO_AUTH_PASSWORD_PARALLELISM"),
        ({"MERCATO_AUTH_PASSWORD_MEMORY_KIB": str(2**32)}, "MERCATO_AUTH_PASSWORD_MEMORY_KIB"),
        ({"MERCATO_AUTH_PASSWORD_TIME_COST": "1000"}, "MERCATO_AUTH_PASSWORD_TIME_COST"),
    ],
)
def test_password_hashing_argon2_would_refuse_is_refused_at_start(
    variables: dict[str, str], named: str
) -> None:
    # Each used to start and then fail every register and login with a 500.
    with pytest.raises(SettingsError) as caught:
        load_settings(variables)
    assert str(caught.value).startswith(f"{named}: ")


async def test_the_cheapest_hashing_the_settings_allow_hashes() -> None:
    settings = load_settings(
        {
            "MERCATO_AUTH_PASSWORD_MEMORY_KIB": "512",
            "MERCATO_AUTH_PASSWORD_PARALLELISM": "64",
            "MERCATO_AUTH_PASSWORD_TIME_COST": "1",
        }
    )
    passwords = Passwords(
        time_cost=settings.password_time_cost,
        memory_kib=settings.password_memory_kib,
        parallelism=settings.password_parallelism,
    )
    assert await passwords.verify(await passwords.hash("Correct-Horse-42"), "Correct-Horse-42")


def test_key_retention_must_cover_the_access_ttl() -> None:
    with pytest.raises(SettingsError, match="MERCATO_AUTH_KEY_RETENTION_SECONDS"):
        load_settings({"MERCATO_AUTH_KEY_RETENTION_SECONDS": "60"})
    assert load_settings({"MERCATO_AUTH_KEY_RETENTION_SECONDS": "3600"}).key_retention == 3600


def test_database_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("  admin@mercato.local ", "admin@mercato.local"),
        ("BOB@LOCALHOST", "bob@localhost"),
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected
