"""Telling "the database is unavailable" apart from every other database error.

An event consumer retries a failed event a bounded number of times and then gives
it to the dead letters; a failure because the database itself is down (stopped,
restarting, its name not resolving while its container is away, its address not
answering, a connection the server dropped) says nothing about the event, and must
not use up those attempts (`chassis.events.consumer` turns it into
`DependencyUnavailable`). The same two cases answer a request 503
(`chassis.web.errors`): a connection the server dropped (`connection_invalidated`)
and a new connection it refused (no statement ran).
"""

from __future__ import annotations

import errno
import socket

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["database_unavailable"]

# Raised as they are (not wrapped by SQLAlchemy) when a new connection cannot be made:
# refused or reset, the host's name does not resolve, the connect timed out.
_CONNECT_ERRORS = (ConnectionError, socket.gaierror, TimeoutError, PoolTimeout)
# A plain OSError with one of these: the host is known but not there now (a container
# stopped whose address is fixed, in /etc/hosts, so its name still resolves).
_UNREACHABLE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})


def _unreachable(exc: BaseException) -> bool:
    """A connection that could not be made at all (refused, unknown name, no route...)."""
    if isinstance(exc, _CONNECT_ERRORS):
        return True
    return isinstance(exc, OSError) and exc.errno in _UNREACHABLE


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) means the database could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            if current.connection_invalidated or current.statement is None:
                return True
        elif _unreachable(current):
            return True
        current = current.__cause__ or current.__context__
    return False
