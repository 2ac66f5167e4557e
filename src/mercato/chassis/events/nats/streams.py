"""Declaring the JetStream streams of a namespace, replicated as configured.

Every client declares the streams it uses when it connects (`NatsBus.connect`): the
events stream, then the dead letters, both on file storage, with `replicas` copies
of each message (`MERCATO_EVENT_REPLICAS`: 1 on a single node, 3 on a cluster, where
a node lost is then no event lost).

A create request for a stream that exists with the same configuration succeeds
and changes nothing. One that exists otherwise keeps everything an operator set on
it, and takes from this client only what its code relies on (its subjects, the
de-duplication window, the events' retention) and more replicas if it has fewer
than configured: a client never lowers a stream's replicas (an R3 stream stays R3
when a service configured with 1 starts, and the service says so in a warning). A
change is an update of the stream, which the operator's broker user may make and a
service's may not (`chassis.events.permissions`): refused or unanswered, the stream
is kept as it is, with a warning. A stream the server will not create (one node
asked for 3 replicas) is a `BusError` naming the setting.

A service's broker user may read the events stream's configuration but not the dead
letters' (`tests/security/test_bus.py`), so the dead letters are first declared
with as many replicas as the events stream has: when the operator set both alike,
that is the same configuration, and nothing needs reading.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from nats.js.api import StreamConfig
from nats.js.errors import APIError

from mercato.chassis.events.bus import BusError

__all__ = ["declare_stream"]

log = logging.getLogger("mercato.events")
NAME_IN_USE = 10058  # JetStream: "stream name already in use with a different configuration"
INFO_TIMEOUT = 1.0  # seconds: a request this broker user may not make is never answered


async def declare_stream(
    js: Any, config: StreamConfig, *, replicas: int | None, like: int | None = None
) -> int:
    """Create `config`'s stream or bring an existing one up to it; its replicas then.

    `like` is the replicas of a sibling stream (the events stream, for the dead
    letters), tried first when more than `replicas`. `replicas=None` (the operator's
    tools) leaves an existing stream's replicas as they are, without a warning.
    """
    first = max(like or 1, replicas or 1)
    try:
        created = await js.add_stream(dataclasses.replace(config, num_replicas=first))
    except APIError as exc:
        if exc.err_code != NAME_IN_USE:
            raise _refused(config, first, exc) from exc
    else:
        has = created.config.num_replicas or 1
        _warn_if_more(config.name, has, replicas)
        return has
    try:
        async with asyncio.timeout(INFO_TIMEOUT):
            current = (await js.stream_info(config.name)).config
    except Exception as exc:  # refused, or unanswered: a broker user without the right
        log.warning(
            "stream %s exists with another configuration, kept as it is (%s)",
            *(config.name, _described(exc, "reading it is not this broker user's right")),
        )
        return first
    has = current.num_replicas or 1
    _warn_if_more(config.name, has, replicas)
    wanted = _wanted(current, config, replicas)
    if wanted == current:
        return has
    try:
        await js.update_stream(wanted)
    except Exception as exc:  # refused, or unanswered (a broker user without the right)
        more = f", {has} replica(s) instead of {wanted.num_replicas}"
        log.warning(
            "stream %s keeps its configuration%s (%s)",
            config.name,
            more if (wanted.num_replicas or 1) > has else "",
            _described(exc, "changing a stream is the operator's right"),
        )
        return has
    if (wanted.num_replicas or 1) > has:
        log.info("stream %s now has %d replicas (it had %d)", config.name, wanted.num_replicas, has)
    return wanted.num_replicas or 1


def _wanted(current: StreamConfig, config: StreamConfig, replicas: int | None) -> StreamConfig:
    """`current` with what this client relies on from `config`, replicas never lowered."""
    changes: dict[str, Any] = {
        "subjects": config.subjects,
        "duplicate_window": config.duplicate_window,
        "num_replicas": max(current.num_replicas or 1, replicas or 1),
    }
    if config.max_age is not None:
        changes["max_age"] = config.max_age
    return dataclasses.replace(current, **changes)


def _warn_if_more(name: str | None, has: int, replicas: int | None) -> None:
    if replicas is not None and has > replicas:
        log.warning(
            "stream %s keeps its %d replicas: MERCATO_EVENT_REPLICAS is %d, and a service "
            "never lowers a stream's replicas (an operator does, if that is wanted)",
            *(name, has, replicas),
        )


def _described(exc: Exception, unanswered: str = "no answer") -> str:
    if isinstance(exc, APIError):
        return exc.description or str(exc)
    if isinstance(exc, TimeoutError):
        return f"no answer: {unanswered}"
    return str(exc) or repr(exc)


def _refused(config: StreamConfig, replicas: int, exc: APIError) -> BusError:
    """The error of a stream the server would not create."""
    what = _described(exc)
    if replicas > 1:
        return BusError(
            f"NATS would not create stream {config.name} with {replicas} replicas ({what}): "
            "MERCATO_EVENT_REPLICAS must not exceed the JetStream cluster's size"
        )
    return BusError(f"NATS would not create stream {config.name}: {what}")
