"""Service tests of the console's catalog: products listed, restocked, pictures uploaded.

The catalog runs for real behind the web app (`tests.support.console`); every check
of what happened is read back from the catalog's API.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from mercato.web.ops.access import ADMINS_ONLY
from mercato.web.ops.catalog import CHOOSE
from tests.support.console import Console, open_console
from tests.support.tokens import TokenFactory
from tests.support.web import SHOP, csrf_token, submit

UPLOAD_LIMIT = 64 * 1024


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens, console_upload_bytes=UPLOAD_LIMIT) as console:
        yield console


async def on_hand(console: Console, product_id: str) -> int:
    answer = await console.http("catalog").get(
        f"/api/catalog/products/{product_id}", headers=await console.admin_api()
    )
    return int(answer.json()["on_hand"])


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 60)).save(out, format="PNG")
    return out.getvalue()


async def upload(
    client: httpx.AsyncClient, product_id: str, data: bytes | None, name: str = "tea.png"
) -> httpx.Response:
    """Post the product page's upload form as a browser does (multipart, its token)."""
    page = f"/ops/catalog/products/{product_id}"
    files = {"file": (name, data or b"", "image/png")}
    return await client.post(
        f"{page}/images",
        data={"csrf_token": await csrf_token(client, page)},
        files=files,
        headers={"Origin": SHOP, "Sec-Fetch-Site": "same-origin"},
    )


async def test_the_catalog_lists_and_finds_products_with_their_stock(console: Console) -> None:
    product = await console.product(stock=7, title="Oolong tea", amount=1299)
    await console.product(stock=1, title="Coffee beans")
    admin = await console.admin()

    answer = await admin.get("/ops/catalog", params={"q": "oolong"})

    assert answer.status_code == 200
    found = r'<th scope="row"><a href="([^"]+)">Oolong tea</a></th>(.*?)</tr>'
    row = re.search(found, answer.text, re.S)
    assert row is not None and row[1] == f"/ops/catalog/products/{product}"
    cells = re.findall(r"<td>([^<]*)</td>", row[2])
    assert cells[0].startswith("SKU-") and cells[1:] == ["$12.99", "7", "7", "0"]
    assert "Coffee beans" not in answer.text


async def test_an_admin_restocks_a_product_and_reads_the_result(console: Console) -> None:
    product = await console.product(stock=10, title="Green tea")
    admin = await console.admin()
    page = f"/ops/catalog/products/{product}"

    shown = await admin.get(page)
    assert shown.status_code == 200
    assert "<dt>On hand</dt>\n  <dd>10</dd>" in shown.text
    answer = await submit(admin, f"{page}/stock", {"delta": "5"}, page=page)

    assert answer.status_code == 303 and answer.headers["location"] == page
    after = await admin.get(page)
    assert "Added 5 units to Green tea: 15 on hand, 15 available." in after.text
    assert "<dt>On hand</dt>\n  <dd>15</dd>" in after.text
    assert await on_hand(console, product) == 15
    taken = await submit(admin, f"{page}/stock", {"delta": "-3"}, page=page)
    assert taken.status_code == 303 and await on_hand(console, product) == 12


async def test_a_bad_restock_gets_the_form_back_with_the_reason(console: Console) -> None:
    product = await console.product(stock=2)
    admin = await console.admin()
    page = f"/ops/catalog/products/{product}"

    for typed in ("lots", "0", "1.5"):
        answer = await submit(admin, f"{page}/stock", {"delta": typed}, page=page)
        assert answer.status_code == 422, typed
        assert 'id="restock-delta-error"' in answer.text
        assert f'value="{typed}"' in answer.text and 'aria-invalid="true"' in answer.text
    below = await submit(admin, f"{page}/stock", {"delta": "-5"}, page=page)

    assert below.status_code == 422
    assert 'id="restock-delta-error"' in below.text
    assert await on_hand(console, product) == 2


async def test_a_customer_cannot_restock_even_by_posting_directly(console: Console) -> None:
    product = await console.product(stock=3)
    customer, _ = await console.customer()
    action = f"/ops/catalog/products/{product}/stock"

    token = await csrf_token(customer, "/")
    answer = await customer.post(
        action,
        data={"csrf_token": token, "delta": "100"},
        headers={"Origin": SHOP, "Sec-Fetch-Site": "same-origin"},
    )
    page = await customer.get(f"/ops/catalog/products/{product}")

    assert answer.status_code == 403 and ADMINS_ONLY in answer.text
    assert page.status_code == 403
    assert await on_hand(console, product) == 3


async def test_a_restock_without_the_token_is_refused(console: Console) -> None:
    product = await console.product(stock=3)
    admin = await console.admin()

    answer = await admin.post(
        f"/ops/catalog/products/{product}/stock", data={"delta": "9"}, headers={"Origin": SHOP}
    )

    assert answer.status_code == 403
    assert await on_hand(console, product) == 3


async def test_an_admin_uploads_a_picture(console: Console) -> None:
    product = await console.product()
    admin = await console.admin()

    answer = await upload(admin, product, png())

    assert answer.status_code == 303, answer.text
    page = await admin.get(answer.headers["location"])
    assert "The picture tea.png was added to the product." in page.text
    images = (await console.http("catalog").get(f"/api/catalog/products/{product}")).json()[
        "images"
    ]
    assert len(images) == 1
    assert f'<img class="thumb" src="{images[0]}"' in page.text


async def test_an_upload_without_a_file_or_too_large_is_refused_beside_the_field(
    console: Console,
) -> None:
    product = await console.product()
    admin = await console.admin()

    empty = await upload(admin, product, None)
    large = await upload(admin, product, b"\x89PNG" + b"0" * UPLOAD_LIMIT)

    assert empty.status_code == 422 and CHOOSE in empty.text
    assert 'id="upload-file-error"' in empty.text
    assert large.status_code == 413
    assert "The picture is larger than the 64 KiB the console takes." in large.text


async def test_a_customer_cannot_upload_a_picture(console: Console) -> None:
    product = await console.product()
    customer, _ = await console.customer()

    answer = await customer.post(
        f"/ops/catalog/products/{product}/images",
        data={"csrf_token": await csrf_token(customer, "/")},
        files={"file": ("x.png", png(), "image/png")},
        headers={"Origin": SHOP, "Sec-Fetch-Site": "same-origin"},
    )

    assert answer.status_code == 403 and ADMINS_ONLY in answer.text


async def test_an_unknown_product_is_the_404_page(console: Console) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops/catalog/products/nope")

    assert answer.status_code == 404 and "There is no product nope." in answer.text
