"""The console's imports: a products file read, sent in batches, its progress kept.

The catalog's side is a function here (`send`) that the test lets answer one batch at
a time, so that the job's progress can be read between batches.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from mercato.web.api.backend import ApiError, BackendDown
from mercato.web.api.ops_catalog import ImportResult
from mercato.web.ops.import_jobs import BATCH, MAX_PRODUCTS, ImportJobs, read_products


def products(count: int) -> list[dict[str, Any]]:
    return [{"sku": f"S-{i}", "title": f"Product {i}", "price": 1.5} for i in range(count)]


def test_a_file_is_the_dummyjson_document_or_a_bare_list() -> None:
    assert read_products(orjson.dumps({"products": products(3)})) == products(3)
    assert read_products(orjson.dumps(products(2))) == products(2)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"{not json", "not JSON"),
        (b'{"items": []}', "no list of products"),
        (b'"text"', "no list of products"),
        (b"[]", "no product"),
        (b"[1, 2]", "must be an object"),
        (orjson.dumps(products(MAX_PRODUCTS + 1)), f"at most {MAX_PRODUCTS}"),
    ],
)
def test_a_file_that_is_not_a_products_file_says_why(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        read_products(data)


async def test_the_job_moves_batch_by_batch_and_adds_up_what_the_catalog_did() -> None:
    batches: list[int] = []
    gate: asyncio.Queue[None] = asyncio.Queue()

    async def send(batch: list[Any]) -> ImportResult:
        await gate.get()
        batches.append(len(batch))
        return ImportResult(created=len(batch) - 1, updated=1)

    job = ImportJobs().start("file.json", products(2 * BATCH + 30), send)
    assert (job.sent, job.total, job.done) == (0, 2 * BATCH + 30, False)
    for expected in (BATCH, 2 * BATCH, 2 * BATCH + 30):
        await gate.put(None)
        while job.sent < expected:  # noqa: ASYNC110 - the progress is what is read
            await asyncio.sleep(0)
        assert job.status()["sent"] == expected

    assert job.task is not None
    await job.task
    assert batches == [BATCH, BATCH, 30]
    assert job.done and job.failure is None
    assert job.message == (
        f"Imported all {2 * BATCH + 30} products: {2 * BATCH + 27} created, 3 updated, 0 unchanged."
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            ApiError(
                "catalog", 422, "Unprocessable", "Nothing was imported; invalid item 3 (title)."
            ),
            "the catalog refused products 101 to 200 of the file (422): Nothing was imported",
        ),
        (BackendDown("catalog", "timeout"), "the catalog could not be reached for products 101"),
    ],
)
async def test_a_refused_batch_stops_the_import_there_and_says_which(
    error: Exception, said: str
) -> None:
    calls = 0

    async def send(batch: list[Any]) -> ImportResult:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise error
        return ImportResult(created=len(batch))

    job = ImportJobs().start("file.json", products(3 * BATCH), send)
    assert job.task is not None
    await job.task

    assert calls == 2 and job.done and job.sent == BATCH
    assert job.status()["failed"] is True
    assert job.message.startswith(f"Stopped after {BATCH} of {3 * BATCH} products")
    assert said in job.message


async def test_only_the_last_jobs_are_kept() -> None:
    async def send(batch: list[Any]) -> ImportResult:
        return ImportResult()

    jobs = ImportJobs()
    started = [jobs.start(f"{i}.json", products(1), send) for i in range(25)]
    await asyncio.gather(*(j.task for j in started if j.task is not None))

    assert jobs.get(started[0].id) is None
    assert jobs.get(started[-1].id) is started[-1]
