"""The console's imports: a products file read, and the catalog's import job as shown."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mercato.web.api.ops_catalog import ImportJob
from mercato.web.ops.import_jobs import MAX_PRODUCTS, JobStatus, read_products


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


def job(state: str, **fields: Any) -> ImportJob:
    finished = state in ("done", "failed", "interrupted")
    values: dict[str, Any] = {"id": "j1", "state": state, "owner": "a", "total": 50, "done": 20,
                              "created": 15, "updated": 5, "finished": finished}  # fmt: skip
    return ImportJob.model_validate({**values, **fields})


@pytest.mark.parametrize(
    ("state", "fields", "said", "done", "failed"),
    [
        ("checking", {"done": 0}, "Checking 50 products.", False, False),
        ("writing", {}, "Imported 20 of 50 products (15 created, 5 updated, 0 unchanged).",
         False, False),
        ("done", {"done": 50}, "Imported all 50 products: 15 created, 5 updated, 0 unchanged.",
         True, False),
        ("failed", {"message": "items 20 to 29 refused"},
         "Stopped after 20 of 50 products (15 created, 5 updated, 0 unchanged): items 20 to 29",
         True, True),
        ("failed", {"done": 0, "errors": [{"index": 3, "field": "price", "message": "bad"}]},
         "Nothing was imported; the catalog refused product 3 (price): bad.", True, True),
        ("interrupted", {}, "the catalog instance running it went away", True, True),
    ],
)  # fmt: skip
def test_the_status_of_a_catalog_job_in_each_state(
    state: str, fields: dict[str, Any], said: str, done: bool, failed: bool
) -> None:
    status = JobStatus.of(job(state, **fields))
    assert said in status.message
    assert (status.done, status.failed, status.total) == (done, failed, 50)
    assert status.body()["sent"] == fields.get("done", 20)
    assert status.filename == "products.json"
