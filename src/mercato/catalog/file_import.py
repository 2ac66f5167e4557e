"""A products file imported in batches: memory bounded by a batch, not by the file.

`import_stream(db, outbox, open_file, ...)` reads the file twice, one item at a time
(`catalog.streaming`): first to check every item (as `dummyjson.parse_products`
does, each problem named with the item's index and the line it starts on), then,
when none was found, to write the products `BATCH` at a time, each batch upserted
by SKU in its own transaction (`service.write_products`: bulk inserts, the
vocabulary counted once per batch). A file with a problem is written not at all.

Once checked, a file is written batch by batch: a batch is all or nothing, and an
error in a later batch (a concurrent writer, a product whose reserved units exceed
its new stock, the database going away) leaves the batches before it imported;
the result then says how far it got. A SKU twice in one batch is a problem of the
file; twice in different batches, the later item updates the product the earlier
one made (telling them apart would hold every SKU of the file in memory).

`on_batch(session, done, result)` runs inside each batch's transaction, so that
what it writes (an import job's progress, `catalog.jobs`) commits with the batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import service, store
from mercato.catalog.dummyjson import parse_products
from mercato.catalog.models import ProductFields
from mercato.catalog.schemas import ImportIssue, ImportResult
from mercato.catalog.service import ImportProgress
from mercato.catalog.streaming import FileFormatError, Item, read_items
from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import ProblemError

__all__ = [
    "BATCH",
    "MAX_ISSUES",
    "BatchHook",
    "ImportStopped",
    "Opener",
    "check_stream",
    "import_stream",
    "write_batches",
]

BATCH = 1000
MAX_ISSUES = 100  # problems reported at most (the count says how many more)
Opener = Callable[[], AbstractContextManager[BinaryIO]]
BatchHook = Callable[[AsyncSession, int, ImportResult], Awaitable[None]]


def _batches(items: Iterator[Item]) -> Iterator[list[Item]]:
    while batch := list(itertools.islice(items, BATCH)):
        yield batch


class ImportStopped(Exception):
    """A batch was refused after others were written: `done` items were imported."""

    def __init__(self, message: str, *, done: int, result: ImportResult) -> None:
        super().__init__(message)
        self.message = message
        self.done = done
        self.result = result


def _issues(batch: list[Item], currency: str) -> list[ImportIssue]:
    """The problems of a batch, indexed and lined as in the file."""
    _, issues = parse_products([item.value for item in batch], currency=currency)
    first = batch[0].index
    lines = {item.index: item.line for item in batch}
    for issue in issues:
        if issue.index is not None:
            issue.index += first
            issue.line = lines.get(issue.index)
    return issues


def check_stream(
    open_file: Opener, *, currency: str, progress: ImportProgress | None = None
) -> tuple[int, list[ImportIssue]]:
    """How many items the file holds, and its problems (the first `MAX_ISSUES`)."""
    issues: list[ImportIssue] = []
    count = 0
    if progress is not None:
        progress.stage("checking products", None, "rows")
    try:
        with open_file() as stream:
            for batch in _batches(read_items(stream)):
                found = _issues(batch, currency)
                issues.extend(found[: MAX_ISSUES - len(issues)])
                count += len(batch)
                if progress is not None:
                    progress.update(count)
    except FileFormatError as exc:
        issues = [ImportIssue(index=None, field=exc.field, message=exc.message, line=exc.line)]
    return count, issues


async def import_stream(
    db: Database,
    outbox: Outbox,
    open_file: Opener,
    *,
    currency: str,
    progress: ImportProgress | None = None,
    on_batch: BatchHook | None = None,
    checked: int | None = None,
) -> ImportResult:
    """Check the file, then write it in batches; nothing is written when `errors` is not empty.

    `checked`: the file was checked already and holds that many items.
    """
    if checked is None:
        checked, issues = check_stream(open_file, currency=currency, progress=progress)
        if issues:
            return ImportResult(errors=issues)

    def batches() -> Iterator[tuple[int, list[ProductFields]]]:
        with open_file() as stream:
            for batch in _batches(read_items(stream)):
                products, _ = parse_products([item.value for item in batch], currency=currency)
                yield batch[0].index, products

    return await write_batches(
        db, outbox, batches(), total=checked, progress=progress, on_batch=on_batch
    )


async def write_batches(
    db: Database,
    outbox: Outbox,
    batches: Iterable[tuple[int, list[ProductFields]]],
    *,
    total: int,
    progress: ImportProgress | None = None,
    on_batch: BatchHook | None = None,
) -> ImportResult:
    """Write checked products, each batch `(index of its first, products)` a transaction.

    `ImportStopped` when a batch is refused (those before it stay written).
    """
    if progress is not None:
        progress.stage("writing products", total, "rows")
    result = ImportResult()
    done = 0
    for first, products in batches:
        try:
            await _write(db, outbox, products, first, result, done + len(products), on_batch)
        except ProblemError as exc:
            where = f"items {first} to {first + len(products) - 1}"
            message = f"{where} refused after {done} imported: {exc.detail}"
            raise ImportStopped(message, done=done, result=result) from exc
        done += len(products)
        if progress is not None:
            progress.update(done)
    return result


async def _write(  # noqa: PLR0917 (a private step of `import_stream`)
    db: Database,
    outbox: Outbox,
    products: list[ProductFields],
    first_index: int,
    result: ImportResult,
    done: int,
    on_batch: BatchHook | None,
) -> None:
    """One batch in its own transaction, with what `on_batch` writes."""
    async with db.session() as session:
        await begin_write(session)
        await store.lock_products(session)
        async with service.writing(session):
            await service.write_products(
                session, outbox=outbox, products=products, result=result, first_index=first_index
            )
            if on_batch is not None:
                await on_batch(session, done, result)
