"""Owner-only files and directories (chassis.security.private_files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mercato.chassis.security.private_files import (
    private_database_file,
    private_directory,
    private_file,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_directories_and_files_are_owner_only(tmp_path: Path) -> None:
    database = private_database_file(tmp_path / "a" / "b" / "x.db")
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert mode(database) == 0o600 and database.stat().st_size == 0


def test_what_an_older_version_made_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    for name in ("x.db", "x.db-wal", "x.db-shm", "secrets.json"):
        (data / name).write_text("x")
        os.chmod(data / name, 0o644)
    private_database_file(data / "x.db")
    private_file(data / "secrets.json")
    assert mode(data) == 0o700
    assert {mode(data / n) for n in ("x.db", "x.db-wal", "x.db-shm", "secrets.json")} == {0o600}
    assert (data / "x.db").read_text() == "x"  # tightened, not truncated


def test_a_shared_sticky_directory_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    private_directory(shared)
    assert mode(shared) == 0o1777
    assert mode(private_file(shared / "x.db")) == 0o600
