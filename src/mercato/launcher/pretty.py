"""The readable form of a log line: one line, its time, level and message, coloured.

    catalog-1  │ 10:36:39 INF loaded the demo catalog: 300 products
    gateway-1  │ 10:41:02 INF GET /api/catalog/products 200 3.1 ms
    catalog-1  │ 10:36:39 WRN publishing the outbox failed (...); retrying  mercato.events.relay
    nats       │ 10:36:24 INF Starting JetStream
    auth-1     │          mercato auth: created admin ... (a line that is not JSON, as it is)

What a line holds besides the usual fields follows it as `key=value`; an exception
shows its last line (the whole traceback stays in the JSON line, in the log file).
Times are local. Colours are ANSI escapes written here rather than by rich, since
a busy system writes a line per request and these are formatted on the launcher's
event loop: about 35 µs an access line, against about 480 µs through rich's
`Console.print` (measured on the 2-core machine under load, docs/decisions.md).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

__all__ = ["Level", "PrettyLines", "level_of"]

_RESET = "\x1b[0m"
_DIM = "2"
_PALETTE = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
_LEVELS = {  # level -> (three letters, colour)
    "debug": ("DBG", "2"),
    "info": ("INF", "32"),
    "warning": ("WRN", "33"),
    "error": ("ERR", "1;31"),
    "critical": ("CRT", "1;97;41"),
}
_NATS_LEVELS = {
    "DBG": "debug",
    "TRC": "debug",
    "INF": "info",
    "WRN": "warning",
    "ERR": "error",
    "FTL": "critical",
}
# Fields every line has, or that the message already says: not repeated after it.
_SAID = frozenset(
    {
        "ts",
        "level",
        "service",
        "logger",
        "msg",
        "instance",
        "request_id",
        "trace_id",
        "span_id",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "exc",
    }
)
_NATS = re.compile(r"^\[\d+\] \d{4}/\d\d/\d\d (\d\d:\d\d:\d\d)\.\d+ \[(\w+)\] (.*)$")
_NO_TIME = " " * 8


class Level:
    """Levels by rank, to tell a notable line from the rest."""

    RANKS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}

    @classmethod
    def rank(cls, name: str) -> int:
        """The rank of a level's name (an unknown one counts as a warning)."""
        return cls.RANKS.get(name, 30)


def _json(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def level_of(text: str) -> str:
    """The level of a line: a JSON line's or the broker's; `warning` for any other line.

    A line that is neither is a process speaking to the person at the terminal
    (a configuration error, the generated admin password), so it counts as notable.
    """
    doc = _json(text)
    if doc is not None:
        return str(doc.get("level", "info"))
    match = _NATS.match(text)
    if match is not None:
        return _NATS_LEVELS.get(match.group(2), "info")
    return "warning"


def _local_time(ts: object) -> str:
    if not isinstance(ts, str):
        return _NO_TIME
    try:
        return datetime.fromisoformat(ts).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return _NO_TIME


def _value(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if text and " " not in text else orjson.dumps(text).decode()


class PrettyLines:
    """Formats lines in the readable form, with a prefix per process."""

    def __init__(self, *, color: bool, launcher: str = "mercato") -> None:
        self.color = color
        self.width = len(launcher)
        self._colors: dict[str, str] = {launcher: "1"}

    def register(self, names: list[str]) -> None:
        """Reserve an aligned prefix (and a colour) for each name."""
        for name in names:
            self.width = max(self.width, len(name))
            if name not in self._colors:
                self._colors[name] = _PALETTE[(len(self._colors) - 1) % len(_PALETTE)]

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}{_RESET}" if self.color and text else text

    def prefix(self, name: str) -> str:
        """`name`, padded, and the bar after it."""
        return self._paint(self._colors.get(name, "1"), f"{name:<{self.width}} │")

    def line(self, name: str, text: str) -> str:
        """The readable form of one line `name` wrote (without a line end)."""
        return f"{self.prefix(name)} {self.body(text.rstrip())}"

    def note(self, name: str, text: str, level: str = "info") -> str:
        """A line of `name`'s own (the launcher's), at the current time."""
        clock = datetime.now().strftime("%H:%M:%S")
        return f"{self.prefix(name)} {self._parts(clock, level, text, '')}"

    def body(self, text: str) -> str:
        """The line after the prefix: time, level, message and the rest."""
        doc = _json(text)
        if doc is not None:
            return self._document(doc)
        match = _NATS.match(text)
        if match is not None:
            clock, letters, message = match.groups()
            return self._parts(clock, _NATS_LEVELS.get(letters, "info"), message, "")
        return f"{_NO_TIME} {text}"

    def _document(self, doc: dict[str, Any]) -> str:
        level = str(doc.get("level", "info"))
        message = str(doc.get("msg", ""))
        duration = doc.get("duration_ms")
        if isinstance(duration, int | float):
            message += f" {duration:g} ms"
        extras = [f"{k}={_value(v)}" for k, v in doc.items() if k not in _SAID]
        if Level.rank(level) >= Level.RANKS["warning"] and doc.get("logger"):
            extras.append(str(doc["logger"]))
        exc = doc.get("exc")
        if isinstance(exc, str) and exc.strip():
            extras.append(exc.strip().splitlines()[-1])
        return self._parts(_local_time(doc.get("ts")), level, message, "  ".join(extras))

    def _parts(self, clock: str, level: str, message: str, extras: str) -> str:
        letters, code = _LEVELS.get(level, (level[:3].upper(), "33"))
        rank = Level.rank(level)
        shown = self._paint(code, message) if rank >= Level.RANKS["warning"] else message
        tail = f"  {self._paint(_DIM, extras)}" if extras else ""
        return f"{self._paint(_DIM, clock)} {self._paint(code, letters)} {shown}{tail}"
