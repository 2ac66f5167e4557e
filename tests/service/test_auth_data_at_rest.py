"""Auth's data at rest: an owner-only database, signing keys encrypted with the passphrase,
and logins beyond the hashing queue answered 503 instead of waiting."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path

import httpx
from fastapi import FastAPI

from mercato.auth.keys import ENCRYPTED_PEM
from tests.support.apps import running
from tests.support.auth import (
    API,
    JWKS,
    auth_app,
    keys_of,
    login,
    problem,
    register,
)

PASSPHRASE = "a-passphrase-long-enough-for-it"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored_pems(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "auth.db") as db:
        return [pem for (pem,) in db.execute("SELECT private_pem FROM signing_keys")]


async def test_the_database_and_its_directory_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(auth_app(data)) as client:
        await register(client)
        assert (await login(client)).status_code == 200
        files = [data / "auth.db", data / "auth.db-wal", data / "auth.db-shm"]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(data) == 0o700


async def test_files_an_older_version_made_readable_are_tightened_at_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    async with running(auth_app(data)) as client:
        await register(client)
    os.chmod(data, 0o755)
    for name in ("auth.db", "auth.db-wal", "auth.db-shm"):
        if (data / name).exists():
            os.chmod(data / name, 0o644)
    async with running(auth_app(data)) as client:
        assert (await login(client)).status_code == 200
    assert mode(data) == 0o700
    assert mode(data / "auth.db") == 0o600
    for name in ("auth.db-wal", "auth.db-shm"):
        if (data / name).exists():
            assert mode(data / name) == 0o600


async def test_every_key_is_encrypted_with_the_passphrase_rotation_included(
    tmp_path: Path,
) -> None:
    app = auth_app(tmp_path, signing_key_passphrase=PASSPHRASE)
    async with running(app) as client:
        await keys_of(app).rotate()
        await keys_of(app).rotate()
        pems = stored_pems(tmp_path)
        assert len(pems) == 3
        assert all(pem.startswith(ENCRYPTED_PEM) for pem in pems)
        assert len((await client.get(JWKS)).json()["keys"]) == 3
    # Another process with the passphrase loads them; the active one signs again.
    again = auth_app(tmp_path, signing_key_passphrase=PASSPHRASE)
    async with running(again) as client:
        await register(client)
        assert (await login(client)).status_code == 200
        assert keys_of(again).active.kid == keys_of(app).active.kid


async def test_keys_stored_in_the_clear_are_encrypted_once_a_passphrase_is_set(
    tmp_path: Path,
) -> None:
    plain = auth_app(tmp_path)
    async with running(plain) as client:
        await register(client)
        tokens = (await login(client)).json()
    assert not any(pem.startswith(ENCRYPTED_PEM) for pem in stored_pems(tmp_path))
    app = auth_app(tmp_path, signing_key_passphrase=PASSPHRASE)
    async with running(app) as client:
        assert all(pem.startswith(ENCRYPTED_PEM) for pem in stored_pems(tmp_path))
        # The same key still signs and verifies: the tokens issued before stay valid.
        assert keys_of(app).active.kid == keys_of(plain).active.kid
        me = await client.get(
            f"{API}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200, me.text


async def burst(client: httpx.AsyncClient, count: int) -> list[httpx.Response]:
    return list(await asyncio.gather(*(login(client) for _ in range(count))))


async def test_logins_beyond_the_hashing_queue_are_refused_at_once(tmp_path: Path) -> None:
    # The production cost (64 MiB, t=3): each verification takes long enough that the
    # whole burst arrives while the first one hashes.
    app: FastAPI = auth_app(
        tmp_path,
        password_time_cost=3,
        password_memory_kib=65_536,
        password_parallelism=4,
        password_hash_concurrency=1,
        password_hash_queue=1,
    )
    async with running(app) as client:
        await register(client)
        answers = await burst(client, 6)
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) >= 2 and set(statuses) <= {200, 503}, statuses
    refused = [a for a in answers if a.status_code == 503]
    assert refused, statuses
    for answer in refused:
        body = problem(answer, 503)
        assert answer.headers["retry-after"] == "1"
        assert "try again" in body["detail"]
