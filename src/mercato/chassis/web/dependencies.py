"""FastAPI dependencies shared by every service's routes.

The runtime, a database session, the outbox and the service's context (typed by the
service: `OrdersContextDep = Annotated[OrdersContext, Depends(context_of)]`); the
caller and its roles are in `mercato.chassis.security.tokens` (`CurrentUser`, `Admin`,
`AdminOrService`, `UserCaller`).

Dependencies are `async def` even when they never await: FastAPI runs a plain `def`
dependency in its thread pool, two thread hops per dependency per request, which
cost more than most endpoints' work (measured in docs/decisions.md, "Chassis").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Outbox
from mercato.chassis.runtime import Runtime

__all__ = [
    "OutboxDep",
    "RuntimeDep",
    "SessionDep",
    "context_of",
    "db_session",
    "get_runtime",
    "outbox_of",
    "runtime_of",
]


def get_runtime(request: Request) -> Runtime[Any, Any]:
    """The Runtime of the app serving this request."""
    runtime: Runtime[Any, Any] = request.app.state.runtime
    return runtime


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for one request; the service layer commits."""
    async with get_runtime(request).database.session() as session:
        yield session


async def runtime_of(request: Request) -> Runtime[Any, Any]:
    """FastAPI dependency: the Runtime of the app serving this request."""
    return get_runtime(request)


async def context_of(request: Request) -> Any:
    """FastAPI dependency: the service's context, built at start (`ServiceSpec.context`)."""
    return get_runtime(request).context


async def outbox_of(request: Request) -> Outbox:
    """FastAPI dependency: the service's outbox."""
    return get_runtime(request).outbox


RuntimeDep = Annotated[Runtime[Any, Any], Depends(runtime_of)]
OutboxDep = Annotated[Outbox, Depends(outbox_of)]
# Closed when the endpoint returns, before the answer is sent: a session kept open
# while the answer goes out holds its pooled connection (idle in a transaction on
# PostgreSQL) into the next request, so a process needed more connections than
# requests in flight, and its pool kept opening and closing them.
SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]
