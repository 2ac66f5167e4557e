"""JSON logs on stdout: one object per line, carrying the request, trace and span ids.

Lines are written in batches: a record is formatted when it is logged, and the
lines gathered within `BatchingHandler.max_delay` go out in one write. Two access
lines per request written one by one cost each service a system call per line and
woke the launcher, which relays every service's output, once per line (measured in
docs/decisions.md, "Chassis").
Warnings and errors, records logged outside the event loop's thread and a full
batch are written at once; what is left is written at exit, and on SIGTERM by
`chassis.web.serve` before the process dies of it. A SIGKILL loses at most the last
`max_delay` of info lines.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from typing import Any, TextIO

import orjson

from mercato.chassis.telemetry import trace_context

__all__ = ["BatchingHandler", "JsonFormatter", "configure_logging"]

# A colour or cursor escape (CSI) some library put in its message: lines are for machines.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Record attributes that are not fields of a line: the LogRecord's own, and uvicorn's
# `color_message`, the message again with ANSI colour escapes (for its own console).
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line; extra fields given to the logger are kept."""

    def __init__(self, service: str, instance: str = "") -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": _plain(record.getMessage()),
        }
        if self.instance:
            doc["instance"] = self.instance
        ctx = trace_context.current()
        if ctx is not None:
            doc["request_id"] = ctx.request_id
            doc["trace_id"] = ctx.trace_id
            doc["span_id"] = ctx.span_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def _plain(message: str) -> str:
    """`message` without ANSI escapes."""
    return _ANSI.sub("", message) if "\x1b" in message else message


class BatchingHandler(logging.Handler):
    """Write formatted records to `stream` in batches (see the module docstring)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        max_delay: float = 0.05,
        max_lines: int = 512,
        flush_level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self.stream = stream
        self.max_delay = max_delay
        self.max_lines = max_lines
        self.flush_level = flush_level
        self._lines: list[str] = []
        self._pending: asyncio.TimerHandle | None = None
        self._pending_loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= self.flush_level or len(self._lines) >= self.max_lines:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another thread, or no loop yet: nothing would flush later
            self.flush()
            return
        if self._pending is None or self._pending_loop is not loop:
            self._pending = loop.call_later(self.max_delay, self._flush_later)
            self._pending_loop = loop

    def _flush_later(self) -> None:
        self.acquire()
        try:
            self._pending = None
            self.flush()
        finally:
            self.release()

    def flush(self) -> None:
        """Write the gathered lines in one go."""
        # A pending timer is left to fire on an empty batch: cancelling it from
        # another thread would not be safe.
        self.acquire()
        try:
            if not self._lines:
                return
            text = "\n".join(self._lines) + "\n"
            self._lines.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # stdout closed or gone: nothing to do
                pass
        finally:
            self.release()


def configure_logging(service: str, level: str = "info", instance: str = "") -> None:
    """Send every logger's output to stdout as JSON lines."""
    handler = BatchingHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes the access log, with ids and route; uvicorn's would double it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("aiosqlite").setLevel("WARNING")
