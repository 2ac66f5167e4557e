"""Which errors `database_unavailable` takes for the database's absence (not the event's fault).

A stopped database whose address is fixed (an /etc/hosts entry, as the container suite
gives every one-container service) still resolves: connecting fails with "no route to
host" rather than an unknown name, and that is an outage too.
"""

from __future__ import annotations

import errno
import socket

import pytest

from mercato.chassis.data.availability import database_unavailable


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        OSError(errno.ENETUNREACH, "Network is unreachable"),
        TimeoutError(),
    ],
)
def test_an_unreachable_database_is_an_outage(exc: BaseException) -> None:
    assert database_unavailable(exc)


def test_the_outage_is_found_under_what_wraps_it() -> None:
    try:
        try:
            raise OSError(errno.EHOSTUNREACH, "No route to host")
        except OSError as inner:
            raise RuntimeError("could not open a connection") from inner
    except RuntimeError as outer:
        assert database_unavailable(outer)


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EACCES, "Permission denied"),
        OSError(errno.ENOSPC, "No space left on device"),
        ValueError("a bad value"),
    ],
)
def test_other_errors_are_not_an_outage(exc: BaseException) -> None:
    assert not database_unavailable(exc)
