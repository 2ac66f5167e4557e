"""Service tests of a products file imported in batches (`catalog.file_import`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from mercato.catalog import file_import
from mercato.catalog.app import create_app
from mercato.catalog.loading import import_file
from mercato.catalog.models import EVENTS, ImportJob, Product, SearchWord
from mercato.catalog.settings import CatalogSettings, load_settings


def product(n: int, **changes: Any) -> dict[str, Any]:
    return {"sku": f"SKU-{n}", "title": f"Kettle number{n}", "price": 10 + n, "stock": 3,
            "category": "kitchen", **changes}  # fmt: skip


def write(path: Path, items: list[Any]) -> Path:
    # One item a line, after the document's first line: item i is on line i + 2.
    lines = [orjson.dumps(item).decode() for item in items]
    path.write_text('{"products": [\n' + ",\n".join(lines) + "\n]}\n")
    return path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CatalogSettings:
    monkeypatch.setattr(file_import, "BATCH", 4)
    return load_settings(data_dir=tmp_path / "data", broker_url="")


async def counts(settings: CatalogSettings) -> tuple[int, int, dict[str, int]]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app), app.state.runtime.database.session() as session:
        products = (await session.execute(select(func.count()).select_from(Product))).scalar()
        events = (await session.execute(select(func.count()).select_from(EVENTS.outbox))).scalar()
        words = dict((await session.execute(select(SearchWord.word, SearchWord.products))).all())
    return int(products or 0), int(events or 0), words


async def jobs_of(settings: CatalogSettings) -> list[ImportJob]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app), app.state.runtime.database.session() as session:
        found = await session.execute(select(ImportJob).order_by(ImportJob.started_at))
        return list(found.scalars())


async def test_a_file_of_several_batches_is_imported_whole(
    settings: CatalogSettings, tmp_path: Path
) -> None:
    path = write(tmp_path / "p.json", [product(n) for n in range(10)])
    result = await import_file(settings, path)
    assert (result.created, result.updated, result.errors) == (10, 0, [])
    [job] = await jobs_of(settings)
    assert (job.state, job.source, job.filename, job.total, job.done) == (
        "done", "file", "p.json", 10, 10
    )  # fmt: skip
    assert (job.created, job.owner) == (10, "mercato import-products")
    products, events, words = await counts(settings)
    assert (products, events) == (10, 10)
    assert words["kettle"] == 10 and words["kitchen"] == 10 and words["number3"] == 1
    again = await import_file(settings, write(path, [product(n, price=1) for n in range(6)]))
    assert (again.created, again.updated, again.unchanged) == (0, 6, 0)


async def fts(settings: CatalogSettings, word: str) -> list[str]:
    """The SKUs SQLite's full-text index finds for `word`, after the integrity checks.

    Both full-text tables (every column's and the names') are checked against the
    products they index (`rank` 1).
    """
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app), app.state.runtime.database.session() as session:
        for table in ("products_fts", "products_named_fts"):
            check = f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)"
            await session.execute(text(check))
        found = await session.execute(
            text("SELECT p.sku FROM products_fts JOIN products p ON p.pk = products_fts.rowid "
                 "WHERE products_fts MATCH :word ORDER BY p.sku"), {"word": word}
        )  # fmt: skip
        return list(found.scalars())


async def test_every_imported_product_is_in_the_full_text_index(
    settings: CatalogSettings, tmp_path: Path
) -> None:
    # A batch is written as multi-row statements: the index's trigger must see each row.
    path = write(tmp_path / "p.json", [product(n) for n in range(10)])
    assert (await import_file(settings, path)).created == 10
    assert await fts(settings, "kettle") == sorted(f"SKU-{n}" for n in range(10))
    assert await fts(settings, "number7") == ["SKU-7"]
    renamed = [product(n, title=f"Teapot number{n}") for n in range(3)]
    assert (await import_file(settings, write(path, renamed))).updated == 3
    assert await fts(settings, "teapot") == ["SKU-0", "SKU-1", "SKU-2"]
    assert await fts(settings, "kettle") == sorted(f"SKU-{n}" for n in range(3, 10))


async def test_bad_items_in_any_batch_are_named_with_their_lines_and_nothing_is_written(
    settings: CatalogSettings, tmp_path: Path
) -> None:
    items = [product(n) for n in range(10)]
    items[1] = product(1, price="cheap")
    items[9] = product(9, stock=-1)
    result = await import_file(settings, write(tmp_path / "p.json", items))
    assert [(e.index, e.line, e.field) for e in result.errors] == [
        (1, 3, "price"),
        (9, 11, "stock"),
    ]
    assert result.created == 0
    assert (await counts(settings))[:2] == (0, 0)
    [job] = await jobs_of(settings)
    assert (job.state, job.done) == ("failed", 0)
    assert [(e["index"], e["line"]) for e in job.errors] == [(1, 3), (9, 11)]


async def test_a_file_cut_off_names_the_line_and_writes_nothing(
    settings: CatalogSettings, tmp_path: Path
) -> None:
    path = write(tmp_path / "p.json", [product(n) for n in range(10)])
    path.write_text(path.read_text()[:-30])
    [error] = (await import_file(settings, path)).errors
    assert (error.index, error.field, error.line) == (None, "body", 11)
    assert (await counts(settings))[:2] == (0, 0)


async def test_a_batch_refused_after_others_stops_the_import_there(
    settings: CatalogSettings, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.json", [product(n) for n in range(6)])
    await import_file(settings, first)
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app), app.state.runtime.database.session() as session:
        held = await session.get(Product, 6, with_for_update=False)  # pk 6 = SKU-5
        assert held is not None and held.sku == "SKU-5"
        held.reserved = 2
        await session.commit()
    # SKU-5 is in the second batch; its new stock (1) is below the 2 units reserved.
    second = write(tmp_path / "b.json", [product(n, stock=1) for n in range(8)])
    with pytest.raises(file_import.ImportStopped) as stopped:
        await import_file(settings, second)
    assert stopped.value.done == 4
    assert stopped.value.result.updated == 4
    assert "items 4 to 7" in stopped.value.message and "reserved" in stopped.value.message
    job = (await jobs_of(settings))[-1]
    assert (job.state, job.total, job.done, job.updated) == ("failed", 8, 4, 4)
    assert job.message == stopped.value.message
