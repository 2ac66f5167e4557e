"""Secrets `mercato up` generates, kept in the data directory: client and broker credentials.

Every service gets a random client secret (and auth the whole list) so that it can
obtain service tokens from auth, and a random password for its own user on the
embedded NATS (and so does the operator, `mercato dead-letters`). They are generated
once and stored in `<data_dir>/secrets.json` (mode 0600), so that they survive
restarts; a service added later gets its own on the next start. Next to each broker
password the file keeps its bcrypt hash, which is what the broker's configuration
holds (`launcher.nats`): hashing is slow on purpose, so it is done once.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt

from mercato.chassis.security.private_files import private_directory
from mercato.launcher.errors import LauncherError

__all__ = ["BCRYPT_COST", "SECRETS_FILE", "BrokerUser", "broker_users", "client_secrets"]

SECRETS_FILE = "secrets.json"
BCRYPT_COST = 11  # what `nats server passwd` uses; the broker checks it once a connection


@dataclass(frozen=True)
class BrokerUser:
    """A broker user's password and the bcrypt hash the broker is given instead."""

    password: str
    hashed: str


def _strings(doc: dict[str, Any], key: str, path: Path) -> dict[str, str]:
    section = doc.get(key, {})
    if not isinstance(section, dict) or not all(isinstance(v, str) and v for v in section.values()):
        raise LauncherError(f"{path}: not a Mercato secrets file; move it away to regenerate")
    return {str(k): v for k, v in section.items()}


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LauncherError(f"{path}: cannot read the secrets file ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("clients"), dict):
        raise LauncherError(f"{path}: not a Mercato secrets file; move it away to regenerate")
    return {key: _strings(doc, key, path) for key in ("clients", "broker", "broker_bcrypt")}


def _write(path: Path, doc: dict[str, dict[str, str]]) -> None:
    private_directory(path.parent)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _complete(data_dir: Path, key: str, names: Iterable[str]) -> dict[str, dict[str, str]]:
    """The secrets file, with a new random value in section `key` for each missing name."""
    path = data_dir / SECRETS_FILE
    doc = _read(path)
    doc.setdefault("clients", {})
    section = doc.setdefault(key, {})
    missing = [name for name in names if name not in section]
    for name in missing:
        section[name] = secrets.token_urlsafe(32)
    if key == "broker":
        hashes = doc.setdefault("broker_bcrypt", {})
        for name, password in section.items():
            if name in missing or name not in hashes:
                salt = bcrypt.gensalt(BCRYPT_COST)
                hashes[name] = bcrypt.hashpw(password.encode(), salt).decode()
                missing.append(name)
    if missing or not path.exists():
        _write(path, doc)
    elif path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return doc


def client_secrets(data_dir: Path, services: Iterable[str]) -> dict[str, str]:
    """The client secret of each service, generating and persisting the missing ones."""
    return _complete(data_dir, "clients", services)["clients"]


def broker_users(data_dir: Path, users: Iterable[str]) -> dict[str, BrokerUser]:
    """The embedded broker's password (and its hash) of each user, made when missing."""
    wanted = list(users)
    doc = _complete(data_dir, "broker", wanted)
    return {name: BrokerUser(doc["broker"][name], doc["broker_bcrypt"][name]) for name in wanted}
