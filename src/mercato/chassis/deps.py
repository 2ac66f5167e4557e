"""FastAPI dependencies shared by every service's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.runtime import Runtime

__all__ = ["RuntimeDep", "SessionDep", "db_session", "get_runtime"]


def get_runtime(request: Request) -> Runtime:
    """The Runtime of the app serving this request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for one request; the service layer commits."""
    async with get_runtime(request).database.session() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(db_session)]
