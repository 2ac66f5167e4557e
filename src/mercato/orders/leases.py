"""Leases on saga rows: one worker at a time drives an order or a return.

An order's checkout saga and a return's refund saga keep their state in one row each
(`orders`, `order_returns`), with `lease_owner` and `lease_until`. Every write a
worker makes is a compare-and-set update: `take` claims the row unless another
worker holds a live lease; `move` changes the status only from the expected one and
only for the lease's owner; `postpone` counts a failed attempt and sets the retry's
time; `touch` sets other columns of a held row; `release` gives the lease back. A
worker that lost its lease (or a stale one) changes nothing: the update matches no
row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Leases"]


def _one(result: Any) -> bool:
    return cast(CursorResult[Any], result).rowcount == 1


class Leases:
    """The lease statements of one table with `id`, `status`, `attempts`, `retry_at`."""

    def __init__(self, table: Table) -> None:
        columns = table.c
        self._take = update(table).where(
            columns.id == bindparam("w_id"),
            or_(
                columns.lease_owner.is_(None),
                columns.lease_until < bindparam("w_now"),
                columns.lease_owner == bindparam("w_owner"),
            ),
        )
        self._held = update(table).where(
            columns.id == bindparam("w_id"), columns.lease_owner == bindparam("w_owner")
        )
        self._move = self._held.where(columns.status == bindparam("w_status"))
        self._postpone = self._held.values(
            attempts=columns.attempts + 1,
            updated_at=bindparam("w_now"),
            retry_at=bindparam("w_retry"),
        )

    async def take(
        self, session: AsyncSession, row_id: str, *, owner: str, now: datetime, until: datetime
    ) -> bool:
        """Claim the row for `owner` unless another worker holds a live lease."""
        params = {"w_id": row_id, "w_now": now, "w_owner": owner}
        values = {"lease_owner": owner, "lease_until": until}
        return _one(await session.execute(self._take, {**values, **params}))

    async def release(self, session: AsyncSession, row_id: str, *, owner: str) -> None:
        """Give up `owner`'s lease (nothing happens if it is not theirs)."""
        await self.touch(
            session, row_id, owner=owner, values={"lease_owner": None, "lease_until": None}
        )

    async def touch(
        self, session: AsyncSession, row_id: str, *, owner: str, values: Mapping[str, Any]
    ) -> bool:
        """Set `values` on a row `owner` holds (no state change); whether it was theirs."""
        params = {**values, "w_id": row_id, "w_owner": owner}
        return _one(await session.execute(self._held, params))

    async def move(
        self,
        session: AsyncSession,
        row_id: str,
        *,
        owner: str,
        expected: str,
        values: Mapping[str, Any],
    ) -> bool:
        """Set `values` if the row is in `expected` under `owner`'s lease; whether it was."""
        where = {"w_id": row_id, "w_owner": owner, "w_status": expected}
        return _one(await session.execute(self._move, {**values, **where}))

    async def postpone(
        self, session: AsyncSession, row_id: str, *, owner: str, now: datetime, retry_at: datetime
    ) -> bool:
        """Count a failed attempt at a row `owner` holds, to be tried again at `retry_at`."""
        params = {"w_id": row_id, "w_owner": owner, "w_now": now, "w_retry": retry_at}
        return _one(await session.execute(self._postpone, params))
