"""Each process's output kept in a bounded file: `<data_dir>/logs/<name>.log`.

`mercato up` appends what every process writes (and its own lines, as JSON lines
like the services', to `mercato.log`) to one file per process, whatever the terminal
shows. A file that reaches `MAX_BYTES` becomes `<name>.log.1` (replacing the one
before) and a new one is begun: at most twice `MAX_BYTES` per process, kept across
restarts. The files are owner-only, like everything in the data directory.

A development admin's generated password is shown once, on the terminal: in the
file, the line that shows it keeps the account and loses the password (`redacted`).

Reading (`mercato logs`): `last_lines` of one process, `stamp` to order several
processes' lines by the time they carry, and `Follower` for `-f`, which notices a
rotation (the file was replaced or shrank) and new files.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from io import FileIO
from pathlib import Path

import orjson

from mercato.chassis.security.private_files import private_directory

__all__ = [
    "LAUNCHER_LOG",
    "MAX_BYTES",
    "SHOWN_ONCE",
    "Follower",
    "LogFile",
    "Logbook",
    "last_lines",
    "log_names",
    "redacted",
    "stamp",
]

MAX_BYTES = 8 << 20
LAUNCHER_LOG = "mercato"
SUFFIX = ".log"
OLD_SUFFIX = ".log.1"
# auth's line on first start (`auth.housekeeping`); the password is for the terminal only.
SHOWN_ONCE = re.compile(r"created admin (?P<email>\S+) with password (?P<password>\S+)")
_JSON_TS = re.compile(r'^\{"ts":"([^"]+)"')
_NATS_TS = re.compile(r"^\[\d+\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) ")
_BLOCK = 1 << 16


def redacted(line: str) -> str:
    """`line` without a generated password it shows."""
    if "with password " not in line:
        return line
    return SHOWN_ONCE.sub(r"created admin \g<email> with password ***", line)


class LogFile:
    """One process's log file, appended to and rotated at `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._handle = self._open()
        self.size = self._handle.seek(0, os.SEEK_END)

    def _open(self) -> FileIO:
        # Unbuffered: each write reaches the file at once, for `mercato logs -f`.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "ab", buffering=0)

    def write(self, data: bytes) -> None:
        """Append `data` (whole lines); rotate once the file has reached its bound."""
        self._handle.write(data)
        self.size += len(data)
        if self.size >= self.max_bytes:
            self.rotate()

    def rotate(self) -> None:
        """Keep the current file as `<name>.log.1` and begin an empty one."""
        self._handle.close()
        os.replace(self.path, self.path.with_name(self.path.stem + OLD_SUFFIX))
        self._handle = self._open()
        self.size = 0

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


class Logbook:
    """The log files of one `mercato up`, one per process, opened on first use."""

    def __init__(self, directory: Path, max_bytes: int = MAX_BYTES) -> None:
        self.directory = private_directory(directory)
        self.max_bytes = max_bytes
        self._files: dict[str, LogFile] = {}

    def write(self, name: str, lines: Sequence[str]) -> None:
        """Append `name`'s lines (without their line ends)."""
        text = "".join(f"{redacted(line.rstrip())}\n" for line in lines)
        # A full disk must not stop the system: the terminal still shows the lines.
        with contextlib.suppress(OSError):
            log = self._files.get(name)
            if log is None:
                log = LogFile(self.directory / f"{name}{SUFFIX}", self.max_bytes)
                self._files[name] = log
            log.write(text.encode(errors="replace"))

    def note(self, text: str, level: str = "info") -> None:
        """Append a line of the launcher's own, as a JSON line like the services'."""
        now = time.time()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        doc = {"ts": ts, "level": level, "service": LAUNCHER_LOG, "msg": text}
        self.write(LAUNCHER_LOG, [orjson.dumps(doc).decode()])

    def close(self) -> None:
        """Close every file."""
        for log in self._files.values():
            log.close()
        self._files.clear()


def log_names(directory: Path) -> list[str]:
    """The processes that have a log file in `directory`."""
    return sorted(
        {
            path.name.removesuffix(OLD_SUFFIX).removesuffix(SUFFIX)
            for path in [*directory.glob(f"*{SUFFIX}"), *directory.glob(f"*{OLD_SUFFIX}")]
        }
    )


def _tail_of(path: Path, count: int) -> list[str]:
    """The last `count` lines of `path` (every line when `count` is 0), read from its end."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        end = handle.seek(0, os.SEEK_END)
        data = b""
        position = end
        while position > 0 and (count == 0 or data.count(b"\n") <= count):
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.decode(errors="replace").splitlines()
    return lines if count == 0 else lines[-count:]


def last_lines(directory: Path, name: str, count: int) -> list[str]:
    """The last `count` lines `name` wrote (0: all that is kept), the rotated file's first."""
    current = _tail_of(directory / f"{name}{SUFFIX}", count)
    if count and len(current) >= count:
        return current
    older = _tail_of(directory / f"{name}{OLD_SUFFIX}", count - len(current) if count else 0)
    return older + current


def _seconds(line: str) -> float | None:
    match = _JSON_TS.match(line)
    if match is not None:
        try:
            return datetime.fromisoformat(match.group(1)).timestamp()
        except ValueError:
            return None
    match = _NATS_TS.match(line)
    if match is not None:  # the broker writes local time
        try:
            return datetime.strptime(match.group(1), "%Y/%m/%d %H:%M:%S.%f").timestamp()
        except ValueError:
            return None
    return None


def stamp(lines: Iterable[str]) -> list[tuple[float, str]]:
    """Each line with the time it carries; a line without one takes the line before's."""
    stamped: list[tuple[float, str]] = []
    previous = 0.0
    for line in lines:
        seconds = _seconds(line)
        previous = previous if seconds is None else seconds
        stamped.append((previous, line))
    return stamped


class Follower:
    """New lines of some processes' log files, as they are written (`mercato logs -f`)."""

    def __init__(self, directory: Path, names: Iterable[str], *, from_end: bool = True) -> None:
        self.directory = directory
        self._names = set(names)
        self._positions: dict[str, tuple[int, int]] = {}  # name -> (inode, offset)
        self._partial: dict[str, bytes] = {}
        for name in sorted(self._names):
            self._position(name, at_end=from_end)

    def watch(self, names: Iterable[str]) -> None:
        """Follow these too (a process that started meanwhile): from their beginning."""
        for name in names:
            if name not in self._names:
                self._names.add(name)
                self._position(name, at_end=False)

    def _position(self, name: str, *, at_end: bool) -> None:
        try:
            info = (self.directory / f"{name}{SUFFIX}").stat()
        except FileNotFoundError:
            return
        self._positions[name] = (info.st_ino, info.st_size if at_end else 0)

    def poll(self) -> Iterator[tuple[str, str]]:
        """The complete lines written since the last poll, as (name, line)."""
        for name in sorted(self._names):
            yield from ((name, line) for line in self._read(name))

    def _read(self, name: str) -> list[str]:
        path = self.directory / f"{name}{SUFFIX}"
        try:
            info = path.stat()
        except FileNotFoundError:
            return []
        inode, offset = self._positions.get(name, (info.st_ino, 0))
        if inode != info.st_ino or info.st_size < offset:  # rotated: a new file
            inode, offset = info.st_ino, 0
            self._partial.pop(name, None)
        if info.st_size == offset:
            self._positions[name] = (inode, offset)
            return []
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
        self._positions[name] = (inode, offset + len(data))
        *complete, rest = (self._partial.pop(name, b"") + data).split(b"\n")
        if rest:
            self._partial[name] = rest
        return [line.decode(errors="replace") for line in complete]
