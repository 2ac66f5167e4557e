"""Service tests of the console's import: a products file, imported by the real catalog's job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mercato.catalog.file_import import BATCH
from mercato.web.ops.access import ADMINS_ONLY
from tests.support.console import Console, open_console
from tests.support.tokens import TokenFactory
from tests.support.web import SHOP, csrf_token

LIMIT = 256 * 1024


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens, console_upload_bytes=LIMIT) as console:
        yield console


def products(count: int, *, broken: int | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"sku": f"IMP-{i:04d}", "title": f"Imported {i}", "price": 2.5, "stock": 3}
        for i in range(count)
    ]
    if broken is not None:
        items[broken]["price"] = "free"
    return items


async def send_file(client: httpx.AsyncClient, data: bytes, name: str = "p.json") -> httpx.Response:
    return await client.post(
        "/ops/catalog/import",
        data={"csrf_token": await csrf_token(client, "/ops/catalog/import")},
        files={"file": (name, data, "application/json")},
        headers={"Origin": SHOP, "Sec-Fetch-Site": "same-origin"},
    )


async def finished(client: httpx.AsyncClient, job_page: str) -> dict[str, Any]:
    for _ in range(300):
        status: dict[str, Any] = (await client.get(f"{job_page}/status")).json()
        if status["done"]:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"the import did not end: {status}")


async def count_imported(console: Console) -> int:
    found, cursor = 0, None
    catalog = console.http("catalog")
    while True:
        params: dict[str, Any] = {
            "q": "Imported",
            "limit": 100,
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await catalog.get("/api/catalog/products", params=params)).json()
        found += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def test_a_file_is_imported_in_batches_and_the_page_shows_the_result(
    console: Console,
) -> None:
    admin = await console.admin()
    total = 2 * BATCH + 50

    answer = await send_file(admin, orjson.dumps({"products": products(total)}), "teas.json")

    assert answer.status_code == 303
    job_page = answer.headers["location"]
    assert job_page.startswith("/ops/catalog/import/")
    status = await finished(admin, job_page)
    assert status == {
        "id": job_page.rsplit("/", 1)[1],
        "total": total,
        "sent": total,
        "done": True,
        "failed": False,
        "message": f"Imported all {total} products: {total} created, 0 updated, 0 unchanged.",
    }
    page = await admin.get(job_page)
    assert "<h1>Import of teas.json</h1>" in page.text
    assert f'max="{total}" value="{total}"' in page.text
    assert "data-import-status" not in page.text and "http-equiv" not in page.text
    assert await count_imported(console) == total
    again = await send_file(admin, orjson.dumps(products(total)))
    status = await finished(admin, again.headers["location"])
    assert status["message"].endswith(f"0 created, 0 updated, {total} unchanged.")


async def test_a_running_import_page_polls_and_reloads_without_script(console: Console) -> None:
    admin = await console.admin()
    answer = await send_file(admin, orjson.dumps(products(2 * BATCH + 50)))

    page = await admin.get(answer.headers["location"])

    if "Imported all" not in page.text:  # still running: the page says how to follow it
        assert 'data-import-status="/ops/catalog/import/' in page.text
        assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text
    await finished(admin, answer.headers["location"])


async def test_a_product_the_catalog_refuses_fails_the_import_whole(console: Console) -> None:
    admin = await console.admin()

    answer = await send_file(admin, orjson.dumps({"products": products(30, broken=17)}))
    status = await finished(admin, answer.headers["location"])

    assert status["failed"] is True and status["sent"] == 0
    assert status["message"].startswith("Nothing was imported; the catalog refused product 17")
    assert await count_imported(console) == 0
    page = await admin.get(answer.headers["location"])
    assert "product 17 (price)" in page.text and "result bad" in page.text


async def test_the_job_is_the_catalogs_so_any_web_replica_follows_it(console: Console) -> None:
    admin = await console.admin()
    answer = await send_file(admin, orjson.dumps(products(12)), "teas.json")
    job_id = answer.headers["location"].rsplit("/", 1)[1]
    await finished(admin, answer.headers["location"])

    api = console.http("catalog")
    job = (
        await api.get(f"/api/catalog/imports/{job_id}", headers=await console.admin_api())
    ).json()

    assert (job["state"], job["filename"], job["done"], job["created"]) == (
        "done",
        "teas.json",
        12,
        12,
    )


@pytest.mark.parametrize(
    ("data", "status", "said"),
    [
        (b"{oops", 422, "The file is not JSON"),
        (b'{"products": []}', 422, "The file holds no product."),
        (b"[" + b'{"sku": "A", "title": "x", "price": 1},' * 20_000 + b"{}]", 413, "too large"),
    ],
)
async def test_a_file_that_cannot_be_imported_is_refused_on_the_form(
    console: Console, data: bytes, status: int, said: str
) -> None:
    admin = await console.admin()

    answer = await send_file(admin, data)

    assert answer.status_code == status
    assert said in answer.text and 'id="import-file-error"' in answer.text


async def test_a_customer_cannot_import_or_follow_an_import(console: Console) -> None:
    admin = await console.admin()
    started = await send_file(admin, orjson.dumps(products(3)))
    customer, _ = await console.customer()

    posted = await customer.post(
        "/ops/catalog/import",
        data={"csrf_token": await csrf_token(customer, "/")},
        files={"file": ("p.json", orjson.dumps(products(3)), "application/json")},
        headers={"Origin": SHOP, "Sec-Fetch-Site": "same-origin"},
    )

    assert posted.status_code == 403 and ADMINS_ONLY in posted.text
    for path in (started.headers["location"], started.headers["location"] + "/status"):
        assert (await customer.get(path)).status_code == 403
    unknown = await admin.get("/ops/catalog/import/nope")
    assert unknown.status_code == 404
