"""One checkout per checkout form, whatever is posted again: a double click, a reload, a retry.

The checkout page renders its form with a new idempotency key (a hidden field).
Orders places at most one order per key and body (`Idempotency-Key`), but a form
that pays with a new card first saves the card at payments, which has no key: two
posts of one form at once would save two cards, and then differ in the card they
pay with, so the second would be refused rather than answered with the first's
order. So the storefront keeps its own record of each form's key (`checkouts`
table), shared by its replicas, and a post goes through `Checkouts.claim`:

    Claimed(method_id)   this post goes on: it saves the card (unless an earlier post
                         of the form saved it: `method_id`), places the order under the
                         key, then `ordered` (or `release` when it could not)
    Ordered(order_id)    an earlier post of the form placed this order: show it
    None                 another post of the form is at it right now

`claim_or_wait` waits for that other post's outcome (a double click's second post
sees the first's order). A claim lasts `claim_for`; the claim of a process that died
mid-checkout runs out and the next post goes on, as safe as a retry under the key.
Keys are the signed-in customer's own: a row is keyed by their id and the key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mercato.chassis.background import BackgroundTask
from mercato.chassis.data.database import Database
from mercato.web import checkout_store as store
from mercato.web.context import WebRuntime

__all__ = ["CHECKOUT_SWEEPER", "CLAIM_FOR", "KEEP_FOR", "Checkouts", "Claimed", "Ordered"]

log = logging.getLogger("mercato.web.checkouts")
CLAIM_FOR = timedelta(seconds=30)  # longer than saving a card and placing the order take
KEEP_FOR = timedelta(days=2)  # a form left open this long gets a new key when sent
WAIT_STEP = 0.1
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Claimed:
    """This post goes on with the checkout; `method_id`: a card an earlier post saved."""

    method_id: str | None


@dataclass(frozen=True, slots=True)
class Ordered:
    """The form's checkout placed this order already."""

    order_id: str


class Checkouts:
    """The record of each checkout form's key: who goes on, and what it made."""

    def __init__(
        self, database: Database, *, clock: Clock = _now, claim_for: timedelta = CLAIM_FOR
    ) -> None:
        self.database = database
        self.clock = clock
        self.claim_for = claim_for

    async def claim(self, user_id: str, key: str) -> Claimed | Ordered | None:
        """Go on with the checkout of `key`, or learn its order; None: another post holds it."""
        now = self.clock()
        until = now + self.claim_for
        async with self.database.session() as db:
            if await store.insert_claim(db, user_id=user_id, key=key, now=now, until=until):
                return Claimed(None)
            retaken = await store.retake_claim(db, user_id=user_id, key=key, now=now, until=until)
            row = await store.checkout(db, user_id=user_id, key=key)
        if row is None:  # deleted by the housekeeping in between: start again
            return await self.claim(user_id, key)
        if row["order_id"] is not None:
            return Ordered(row["order_id"])
        return Claimed(row["method_id"]) if retaken else None

    async def claim_or_wait(
        self, user_id: str, key: str, *, seconds: float
    ) -> Claimed | Ordered | None:
        """`claim`, waiting up to `seconds` for another post of the form to finish."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            outcome = await self.claim(user_id, key)
            if outcome is not None or asyncio.get_running_loop().time() >= deadline:
                return outcome
            await asyncio.sleep(WAIT_STEP)

    async def saved_card(self, user_id: str, key: str, method_id: str) -> None:
        """Remember the card this checkout saved, for a later post of the form."""
        async with self.database.session() as db:
            await store.set_method(db, user_id=user_id, key=key, method_id=method_id)

    async def ordered(self, user_id: str, key: str, order_id: str) -> None:
        """Remember the order this checkout placed: every later post of the form shows it."""
        async with self.database.session() as db:
            await store.set_order(db, user_id=user_id, key=key, order_id=order_id)

    async def release(self, user_id: str, key: str) -> None:
        """Give the checkout up without an order (the form comes back to be corrected)."""
        async with self.database.session() as db:
            await store.release(db, user_id=user_id, key=key)

    async def delete_old(self) -> int:
        """Delete the checkouts older than `KEEP_FOR`; how many."""
        async with self.database.session() as db:
            return await store.delete_older_than(db, before=self.clock() - KEEP_FOR)


async def sweep_checkouts(runtime: WebRuntime) -> None:
    """One round of the housekeeping: forget old checkouts' keys."""
    deleted = await Checkouts(runtime.database).delete_old()
    if deleted:
        log.info("deleted %d old checkouts", deleted)


CHECKOUT_SWEEPER: BackgroundTask[WebRuntime] = BackgroundTask(
    "web-checkouts", sweep_checkouts, interval=lambda _: 3600.0
)
