"""The processes' log files: bounded, rotated, read back in time order and followed."""

from __future__ import annotations

import json
from pathlib import Path

from mercato.launcher.logbook import (
    Follower,
    Logbook,
    LogFile,
    last_lines,
    log_names,
    redacted,
    stamp,
)

PASSWORD_LINE = (
    "mercato auth: created admin admin@mercato.local with password Zx9Q-secret"
    " (shown once; set MERCATO_ADMIN_EMAIL/MERCATO_ADMIN_PASSWORD to choose)"
)


def line(ts: str, msg: str) -> str:
    return json.dumps({"ts": ts, "level": "info", "msg": msg}, separators=(",", ":"))


def test_a_file_is_rotated_at_its_bound_keeping_one_old_file(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "catalog-1.log", max_bytes=100)
    for i in range(23):  # 23 bytes each: a file is rotated after its 5th line
        log.write(f"line {i:02d} of some length\n".encode())
    log.close()

    current = (tmp_path / "catalog-1.log").read_text().splitlines()
    old = (tmp_path / "catalog-1.log.1").read_text().splitlines()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog-1.log", "catalog-1.log.1"]
    assert old == [f"line {i:02d} of some length" for i in range(15, 20)]
    assert current == [f"line {i:02d} of some length" for i in range(20, 23)]
    assert (tmp_path / "catalog-1.log").stat().st_mode & 0o777 == 0o600
    # Reading goes across the rotation: the old file's lines first.
    assert last_lines(tmp_path, "catalog-1", 5) == old[-2:] + current
    assert last_lines(tmp_path, "catalog-1", 0) == old + current


def test_a_file_grows_on_across_starts(tmp_path: Path) -> None:
    for run in range(2):
        book = Logbook(tmp_path)
        book.write("users-1", [f"run {run}"])
        book.close()
    assert last_lines(tmp_path, "users-1", 0) == ["run 0", "run 1"]


def test_the_generated_password_stays_out_of_the_file(tmp_path: Path) -> None:
    book = Logbook(tmp_path / "logs")
    book.write("auth-1", [PASSWORD_LINE, "the password is fine"])
    book.note("ready in 7.3 s")
    book.close()

    text = (tmp_path / "logs" / "auth-1.log").read_text()
    assert "Zx9Q-secret" not in text
    assert "created admin admin@mercato.local with password *** (shown once;" in text
    assert text.endswith("the password is fine\n")
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700
    [note] = (tmp_path / "logs" / "mercato.log").read_text().splitlines()
    assert json.loads(note) | {"ts": ""} == {
        "ts": "",
        "level": "info",
        "service": "mercato",
        "msg": "ready in 7.3 s",
    }
    assert redacted("no secret here") == "no secret here"


def test_lines_take_the_time_they_carry_or_the_one_before(tmp_path: Path) -> None:
    stamped = stamp(
        [
            "plain, before any time",
            line("2026-01-01T10:00:01.000Z", "json"),
            "plain after it",
            "[123] 2026/01/01 10:00:02.500000 [INF] the broker, in local time",
        ]
    )
    times = [t for t, _ in stamped]
    assert times[0] == 0.0
    assert times[2] == times[1]
    assert times[1] > 0 and times[3] > 0


def test_log_names_lists_each_process_once(tmp_path: Path) -> None:
    for name in ("nats.log", "catalog-1.log", "catalog-1.log.1", "catalog-2.log.1", "x.txt"):
        (tmp_path / name).write_text("")
    assert log_names(tmp_path) == ["catalog-1", "catalog-2", "nats"]


def test_the_follower_sees_appends_whole_lines_rotations_and_new_files(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "gateway-1.log", max_bytes=1000)
    log.write(b"before\n")
    follower = Follower(tmp_path, ["gateway-1"])
    assert list(follower.poll()) == []  # it starts at the end

    log.write(b"one\ntw")
    assert list(follower.poll()) == [("gateway-1", "one")]
    log.write(b"o\n")
    assert list(follower.poll()) == [("gateway-1", "two")]

    log.rotate()
    log.write(b"after the rotation\n")
    assert list(follower.poll()) == [("gateway-1", "after the rotation")]

    (tmp_path / "gateway-2.log").write_text("early\n")
    follower.watch(["gateway-1", "gateway-2"])
    assert list(follower.poll()) == [("gateway-2", "early")]  # a new file from its start
    log.close()
