"""The readable form of the processes' lines, and the terminal view of `mercato up`."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mercato.launcher.console import Announcement, Console
from mercato.launcher.dashboard import Dashboard
from mercato.launcher.logbook import Logbook
from mercato.launcher.pretty import PrettyLines, level_of

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PASSWORD_LINE = (
    "mercato auth: created admin admin@mercato.local with password Zx9Q-secret"
    " (shown once; set MERCATO_ADMIN_EMAIL/MERCATO_ADMIN_PASSWORD to choose)"
)


def doc(**fields: object) -> str:
    base: dict[str, object] = {"ts": "2026-01-01T10:00:01.250Z", "level": "info"}
    return json.dumps(base | fields, separators=(",", ":"))


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times are shown in local time: make it UTC for the test."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def lines() -> PrettyLines:
    pretty = PrettyLines(color=False)
    pretty.register(["catalog-1", "nats"])
    return pretty


def test_a_json_line_is_time_level_and_message(lines: PrettyLines) -> None:
    text = doc(service="catalog", logger="mercato.catalog", msg="loaded 300 products")
    assert lines.line("catalog-1", text) == "catalog-1 │ 10:00:01 INF loaded 300 products"


def test_an_access_line_shows_its_duration_and_no_ids(lines: PrettyLines) -> None:
    text = doc(
        logger="mercato.access",
        msg="GET /api/catalog/products 200",
        request_id="r1",
        trace_id="t1",
        span_id="s1",
        method="GET",
        path="/api/catalog/products",
        route="/api/catalog/products",
        status=200,
        duration_ms=3.1,
        instance="catalog-1",
    )
    assert lines.line("catalog-1", text) == (
        "catalog-1 │ 10:00:01 INF GET /api/catalog/products 200 3.1 ms"
    )


def test_a_warning_names_its_logger_and_other_fields_follow(lines: PrettyLines) -> None:
    text = doc(level="warning", logger="mercato.events.relay", msg="publishing failed", rows=12)
    assert lines.line("catalog-1", text) == (
        "catalog-1 │ 10:00:01 WRN publishing failed  rows=12  mercato.events.relay"
    )


def test_an_exception_shows_its_last_line(lines: PrettyLines) -> None:
    exc = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom'
    text = doc(level="error", logger="mercato.runtime", msg="a round failed", exc=exc)
    assert lines.line("catalog-1", text) == (
        "catalog-1 │ 10:00:01 ERR a round failed  mercato.runtime  ValueError: boom"
    )


def test_the_brokers_lines_and_plain_lines(lines: PrettyLines) -> None:
    nats = "[4711] 2026/01/01 10:00:02.123456 [WRN] slow consumer"
    assert lines.line("nats", nats) == "nats      │ 10:00:02 WRN slow consumer"
    assert lines.line("catalog-1", "mercato: MERCATO_CATALOG_CURRENCY: bad") == (
        "catalog-1 │          mercato: MERCATO_CATALOG_CURRENCY: bad"
    )
    assert level_of(nats) == "warning"
    assert level_of(doc(level="debug")) == "debug"
    assert level_of("not a log line") == "warning"  # a process speaking to the person


def test_colour_only_when_asked() -> None:
    coloured = PrettyLines(color=True)
    coloured.register(["catalog-1"])
    text = coloured.line("catalog-1", doc(level="error", msg="down"))
    assert "\x1b[" in text
    assert ANSI.sub("", text) == "catalog-1 │ 10:00:01 ERR down"


def announcement() -> Announcement:
    return Announcement(
        seconds=7.25,
        lines=["ready in 7.2 s", "  gateway   http://127.0.0.1:8000"],
        urls=[("shop", "http://127.0.0.1:8000/"), ("console", "http://127.0.0.1:8000/ops")],
        footer="data in /data · Ctrl-C or `mercato stop` stops it",
    )


def test_the_dashboard_shows_what_matters_then_everything(tmp_path: Path) -> None:
    out = io.StringIO()
    view = Dashboard(out, color=False, live=False)
    view.register(["auth-1", "catalog-1"])
    view.record_to(Logbook(tmp_path))
    view.begin()
    view.lines("catalog-1", [doc(msg="starting quietly"), doc(level="warning", msg="look")])
    view.lines("auth-1", [PASSWORD_LINE])
    view.announce(announcement())
    view.lines("catalog-1", [doc(msg="now everything")])

    shown = out.getvalue()
    assert "starting quietly" not in shown
    assert "catalog-1 │ 10:00:01 WRN look" in shown
    assert f"auth-1    │          {PASSWORD_LINE}" in shown
    assert "Mercato is ready in 7.2 s" in shown  # the panel's title
    assert re.search(r"│ shop +http://127\.0\.0\.1:8000/ +│", shown)
    assert re.search(r"│ console +http://127\.0\.0\.1:8000/ops +│", shown)
    assert re.search(r"│ admin +admin@mercato\.local  password Zx9Q-secret  \(shown once\)", shown)
    assert shown.rstrip().endswith("catalog-1 │ 10:00:01 INF now everything")
    # The files keep everything, the launcher's lines as JSON, and not the password.
    kept = (tmp_path / "catalog-1.log").read_text()
    assert "starting quietly" in kept and "now everything" in kept
    assert "Zx9Q-secret" not in (tmp_path / "auth-1.log").read_text()
    said = [json.loads(t)["msg"] for t in (tmp_path / "mercato.log").read_text().splitlines()]
    assert said == ["ready in 7.2 s", "  gateway   http://127.0.0.1:8000"]


def test_the_json_console_writes_what_it_always_wrote(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(out, color=False)
    console.register(["catalog-1"])
    console.record_to(Logbook(tmp_path))
    console.begin()
    console.lines("catalog-1", [doc(msg="quiet")])
    console.say("started catalog-1 (pid 7)", routine=True)
    console.announce(announcement())
    console.end()

    assert out.getvalue() == (
        f"catalog-1 | {doc(msg='quiet')}\n"
        "mercato   | started catalog-1 (pid 7)\n"
        "mercato   | ready in 7.2 s\n"
        "mercato   |   gateway   http://127.0.0.1:8000\n"
    )
    assert (tmp_path / "catalog-1.log").read_text() == doc(msg="quiet") + "\n"
