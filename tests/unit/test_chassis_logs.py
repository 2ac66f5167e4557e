"""The JSON log lines and the handler that writes them in batches."""

from __future__ import annotations

import asyncio
import io
import logging
import threading

import orjson
import pytest

from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.logs import BatchingHandler, JsonFormatter


class Recorder(io.StringIO):
    """A stream that remembers each write separately."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)


def _logger(handler: logging.Handler) -> logging.Logger:
    handler.setFormatter(JsonFormatter("svc", "svc-1"))
    logger = logging.getLogger(f"test.logs.{id(handler)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def _lines(writes: list[str]) -> list[dict[str, object]]:
    return [orjson.loads(line) for text in writes for line in text.splitlines()]


async def test_lines_logged_in_the_loop_go_out_together_after_the_delay() -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream, max_delay=0.05))

    for n in range(3):
        logger.info("line %d", n)
    assert stream.writes == []

    await asyncio.sleep(0.15)
    assert len(stream.writes) == 1
    assert [line["msg"] for line in _lines(stream.writes)] == ["line 0", "line 1", "line 2"]


async def test_a_warning_is_written_at_once_after_the_lines_before_it() -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream, max_delay=10.0))

    logger.info("first")
    logger.warning("then trouble")

    assert len(stream.writes) == 1
    lines = _lines(stream.writes)
    assert [(line["level"], line["msg"]) for line in lines] == [
        ("info", "first"),
        ("warning", "then trouble"),
    ]


async def test_a_full_batch_is_written_without_waiting() -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream, max_delay=10.0, max_lines=4))

    for n in range(9):
        logger.info("n=%d", n)

    assert [len(text.splitlines()) for text in stream.writes] == [4, 4]
    assert len(_lines(stream.writes)) == 8


def test_outside_an_event_loop_each_line_is_written_at_once() -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream, max_delay=10.0))

    logger.info("no loop here")
    assert [line["msg"] for line in _lines(stream.writes)] == ["no loop here"]


async def test_a_line_from_another_thread_is_not_left_waiting_for_the_loop() -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream, max_delay=10.0))

    worker = threading.Thread(target=logger.info, args=("from a thread",))
    worker.start()
    worker.join()

    assert [line["msg"] for line in _lines(stream.writes)] == ["from a thread"]


async def test_flush_writes_what_is_left_and_a_closed_stream_is_not_an_error() -> None:
    stream = Recorder()
    handler = BatchingHandler(stream, max_delay=10.0)
    logger = _logger(handler)

    logger.info("pending")
    handler.flush()
    assert [line["msg"] for line in _lines(stream.writes)] == ["pending"]

    closed = io.StringIO()
    closed.close()
    quiet = _logger(BatchingHandler(closed))
    quiet.error("nowhere to go")  # must not raise


async def test_a_line_carries_service_instance_ids_and_extra_fields() -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream))
    ctx = trace_context.new_context("req-1", None)
    token = trace_context.set_current(ctx)
    try:
        logger.error("boom", extra={"route": "/api/x", "status": 500})
    finally:
        trace_context.reset_current(token)

    (line,) = _lines(stream.writes)
    assert line["service"] == "svc"
    assert line["instance"] == "svc-1"
    assert line["request_id"] == "req-1"
    assert (line["trace_id"], line["span_id"]) == (ctx.trace_id, ctx.span_id)
    assert len(ctx.trace_id) == 32 and len(ctx.span_id) == 16
    assert (line["route"], line["status"], line["level"]) == ("/api/x", 500, "error")
    assert str(line["ts"]).endswith("Z")


async def test_a_line_holds_no_ansi_escapes_not_even_uvicorns_coloured_copy() -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream))
    # What uvicorn logs at start: the message, and again with colours for its console.
    coloured = "Started server process [\x1b[36m%d\x1b[0m]"
    logger.warning("Started server process [%d]", 42, extra={"color_message": coloured})
    logger.warning("a \x1b[1mbold\x1b[0m claim \x1b[2K")

    first, second = _lines(stream.writes)
    assert first["msg"] == "Started server process [42]"
    assert "color_message" not in first
    assert second["msg"] == "a bold claim "
    assert "\x1b" not in "".join(stream.writes) and "\\u001b" not in "".join(stream.writes)


@pytest.mark.parametrize("level", [logging.ERROR, logging.CRITICAL])
async def test_errors_are_never_held_back(level: int) -> None:
    stream = Recorder()
    logger = _logger(BatchingHandler(stream, max_delay=10.0))

    logger.log(level, "now")
    assert len(stream.writes) == 1
