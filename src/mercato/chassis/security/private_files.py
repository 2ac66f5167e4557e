"""Owner-only files and directories: what Mercato writes is readable by its user alone.

The data directory holds every SQLite database (auth's has the signing keys and the
password hashes), the client secrets and the broker's store, so another user of the
machine must not read it. Everything Mercato creates there is made owner-only
(directories 0700, files 0600), and what an older version made with the usual
0755/0644 is tightened when a service or `mercato up` starts.

A directory is only tightened when it is plainly Mercato's: owned by this user and
not sticky. A data directory pointed at `/tmp` (sticky, shared) or at another
user's directory is left alone, with a warning, while the files inside are still
made owner-only.

SQLite creates a database's `-wal`, `-shm` and `-journal` files with the mode of the
database file itself, so making the database file 0600 before SQLite opens it keeps
its companions private too; those left by an older version are tightened here.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "SQLITE_COMPANIONS",
    "private_database_file",
    "private_directory",
    "private_file",
    "tighten",
]

log = logging.getLogger("mercato.files")
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def tighten(path: Path, mode: int) -> None:
    """Drop every permission bit of `path` beyond `mode` (nothing if it is missing)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode:
        os.chmod(path, current & mode)


def _ours(info: os.stat_result) -> bool:
    return info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX


def private_directory(path: Path) -> Path:
    """Make `path` (and missing parents) owner-only; tighten it when it is ours."""
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    info = path.stat()
    if _ours(info):
        tighten(path, PRIVATE_DIR_MODE)
    elif stat.S_IMODE(info.st_mode) & 0o077:
        log.warning(
            "%s is shared (another owner, or sticky): not made owner-only; "
            "point the data directory at a directory of your own",
            path,
        )
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and owner-only if it is missing, else tighten it to 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        tighten(path, PRIVATE_FILE_MODE)
    else:
        os.close(fd)
    return path


def private_database_file(path: Path, *, companions: Iterable[str] = SQLITE_COMPANIONS) -> Path:
    """Prepare a SQLite file: directory, file and companions owner-only."""
    private_directory(path.parent)
    private_file(path)
    for suffix in companions:
        tighten(path.with_name(path.name + suffix), PRIVATE_FILE_MODE)
    return path
