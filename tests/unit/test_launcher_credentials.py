"""Client secrets and broker passwords: generated once, persisted with mode 0600, reused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import bcrypt
import pytest

from mercato.launcher.credentials import broker_users, client_secrets
from mercato.launcher.errors import LauncherError


def test_secrets_are_generated_and_persisted_privately(tmp_path: Path) -> None:
    secrets = client_secrets(tmp_path, ["auth", "users"])

    path = tmp_path / "secrets.json"
    assert set(secrets) == {"auth", "users"}
    assert secrets["auth"] != secrets["users"]
    assert len(secrets["auth"]) >= 32
    assert json.loads(path.read_text()) == {"clients": secrets}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_are_reused_on_the_next_start(tmp_path: Path) -> None:
    first = client_secrets(tmp_path, ["auth", "users"])

    second = client_secrets(tmp_path, ["auth", "users"])

    assert second == first


def test_a_new_service_gets_a_secret_and_the_old_ones_stay(tmp_path: Path) -> None:
    first = client_secrets(tmp_path, ["auth"])

    second = client_secrets(tmp_path, ["auth", "orders"])

    assert second["auth"] == first["auth"]
    assert "orders" in second
    assert json.loads((tmp_path / "secrets.json").read_text())["clients"] == second


def test_a_loosened_mode_is_tightened_again(tmp_path: Path) -> None:
    client_secrets(tmp_path, ["auth"])
    path = tmp_path / "secrets.json"
    path.chmod(0o644)

    client_secrets(tmp_path, ["auth"])

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_foreign_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text("[1, 2]")

    with pytest.raises(LauncherError, match="not a Mercato secrets file"):
        client_secrets(tmp_path, ["auth"])


def test_broker_users_get_a_password_and_its_bcrypt_hash_kept_privately(tmp_path: Path) -> None:
    clients = client_secrets(tmp_path, ["auth"])

    users = broker_users(tmp_path, ["auth", "mercato-admin"])

    assert set(users) == {"auth", "mercato-admin"}
    assert users["auth"].password != users["mercato-admin"].password
    for user in users.values():
        assert bcrypt.checkpw(user.password.encode(), user.hashed.encode())
    doc = json.loads((tmp_path / "secrets.json").read_text())
    assert doc["clients"] == clients  # the client secrets are kept as they were
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    assert broker_users(tmp_path, ["auth", "mercato-admin"]) == users  # reused on restart
    assert client_secrets(tmp_path, ["auth"]) == clients
