"""`upgrade(..., on_step=...)`: what `mercato migrate`'s progress is told, step by step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.orders.app import SPEC


async def test_each_pending_migration_is_told_before_and_after(tmp_path: Path) -> None:
    told: list[tuple[int, list[str]]] = []

    def step(done: int, pending: Sequence[str]) -> None:
        told.append((done, list(pending)))

    assert SPEC.migrations is not None
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}")
    try:
        await upgrade(db, SPEC.migrations, "orders", on_step=step)
        fresh = list(told)
        told.clear()
        await upgrade(db, SPEC.migrations, "orders", on_step=step)  # nothing left to do
    finally:
        await db.dispose()

    pending = fresh[0][1]
    assert [revision.split()[0] for revision in pending] == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
    ]
    assert pending[1].startswith("0002 Sagas that end")
    assert [done for done, _ in fresh] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert told == [(0, [])]
