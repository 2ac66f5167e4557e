"""Products loaded from files: `mercato import-products PATH` and the demo catalog.

A file is read one item at a time, checked whole, then upserted by SKU in batches
(`catalog.file_import`), each batch a transaction with an event per change in the
outbox; memory is bounded by a batch, not by the file. A document in memory
(`import_document`) goes through the same path as `POST /products/import`: validated
whole, upserted in one transaction. The demo catalog (`demo/products.json`) is loaded
at start when the `demo_data` setting is on and the products table is empty; the
emptiness check runs under the write lock, so replicas starting together load it
once. Each demo product gets a picture drawn for it (`images.demo`), stored in the
import's transaction and listed as its `images` and `thumbnail`; the pictures are
drawn before the lock is taken, and only when the table looked empty.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import jobs, service, store
from mercato.catalog.dummyjson import parse_products
from mercato.catalog.file_import import ImportStopped, check_stream, import_stream
from mercato.catalog.images import store as image_store
from mercato.catalog.images.demo import demo_pictures
from mercato.catalog.images.links import with_image
from mercato.catalog.images.processing import PICTURES
from mercato.catalog.models import EVENTS, MIGRATIONS, ProductFields
from mercato.catalog.schemas import ImportIssue, ImportResult
from mercato.catalog.service import ImportProgress
from mercato.catalog.settings import CatalogRuntime, CatalogSettings
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.chassis.events import Outbox
from mercato.chassis.web.json_body import parse_json

__all__ = ["DEMO_FILE", "import_document", "import_file", "load_demo_data"]

DEMO_FILE = Path(__file__).parent / "demo" / "products.json"
log = logging.getLogger("mercato.catalog")


def _items(document: Any) -> list[Any] | ImportIssue:
    products = document.get("products") if isinstance(document, dict) else None
    if not isinstance(products, list):
        return ImportIssue(index=None, field="products", message="expected {products: [...]}")
    return products


async def import_document(
    db: Database,
    outbox: Outbox,
    raw: bytes,
    *,
    currency: str,
    if_empty: bool = False,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Import a dummyjson document; nothing is written when `errors` is not empty."""
    if progress is not None:
        progress.stage("checking products")
    try:
        document = parse_json(raw)
    except json.JSONDecodeError as exc:
        return ImportResult(errors=[ImportIssue(index=None, field="body", message=exc.msg)])
    items = _items(document)
    if isinstance(items, ImportIssue):
        return ImportResult(errors=[items])
    products, issues = parse_products(items, currency=currency)
    if issues:
        return ImportResult(errors=issues)
    async with db.session() as session:
        return await service.import_products(
            session, outbox=outbox, products=products, if_empty=if_empty, progress=progress
        )


async def import_file(
    settings: CatalogSettings,
    path: Path | str,
    *,
    progress: ImportProgress | None = None,
    owner: str = "mercato import-products",
) -> ImportResult:
    """Migrate the catalog's database and import a products file into it, in batches.

    The file is read one item at a time (`catalog.file_import`) and the import is a
    job (`catalog.jobs`) that the API and the console show while it runs.
    FileNotFoundError when there is no file, `ImportStopped` when a batch is refused
    after others were written.
    """
    file = Path(path)
    if progress is not None:
        progress.stage(f"reading {file.name}")
    if not await asyncio.to_thread(file.is_file):
        raise FileNotFoundError(str(file))
    db = Database(settings.sqlalchemy_url)
    try:
        await upgrade(db, MIGRATIONS, "catalog")
        job_id = await jobs.create_job(db, owner=owner, source="file", filename=file.name)
        return await _import_job(db, file, job_id, settings.currency, progress)
    finally:
        await db.dispose()


async def _import_job(
    db: Database, file: Path, job_id: str, currency: str, progress: ImportProgress | None
) -> ImportResult:
    """Check the file, then write it, the job following each step."""
    result = ImportResult()
    try:
        total, issues = check_stream(lambda: file.open("rb"), currency=currency, progress=progress)
        if issues:
            message = f"Nothing was imported: {len(issues)} problem(s) in the file."
            await jobs.finish_job(db, job_id, result=result, errors=issues, message=message)
            return ImportResult(errors=issues)
        await jobs.start_writing(db, job_id, total=total)
        outbox = Outbox(EVENTS, source="catalog")
        result = await import_stream(
            db,
            outbox,
            lambda: file.open("rb"),
            currency=currency,
            progress=progress,
            on_batch=jobs.batch_hook(job_id),
            checked=total,
        )
    except ImportStopped as stopped:
        await jobs.finish_job(
            db, job_id, result=stopped.result, message=stopped.message, failed=True
        )
        raise
    except Exception as exc:
        message = f"The import failed ({type(exc).__name__})."
        await jobs.finish_job(db, job_id, result=result, message=message, failed=True)
        raise
    await jobs.finish_job(db, job_id, result=result)
    return result


async def load_demo_data(runtime: CatalogRuntime) -> None:
    """Start step: load the demo catalog, with its pictures, into an empty products table."""
    settings, database = runtime.settings, runtime.database
    if not settings.demo_data:
        return
    async with database.session() as session:
        if await store.count_products(session) > 0:
            return  # loaded before: no picture is drawn for nothing
    raw = await asyncio.to_thread(DEMO_FILE.read_bytes)
    products, issues = parse_products(_demo_items(raw), currency=settings.currency)
    if issues:
        raise RuntimeError(f"the demo catalog is invalid: {issues[0]}")
    started = time.perf_counter()
    pictures = await asyncio.get_running_loop().run_in_executor(
        PICTURES, demo_pictures, [(p["title"], p["category"], p["brand"]) for p in products]
    )
    drawn = time.perf_counter() - started
    by_sku = {
        p["sku"]: (str(uuid.uuid4()), picture)
        for p, picture in zip(products, pictures, strict=True)
    }
    pictured = [_with_picture(p, by_sku[p["sku"]][0]) for p in products]

    async def store_pictures(session: AsyncSession, created: Mapping[str, str]) -> None:
        rows = [
            (image_id, created[sku], picture)
            for sku, (image_id, picture) in by_sku.items()
            if sku in created
        ]
        await image_store.add_images(session, rows, now=datetime.now(UTC))

    async with database.session() as session:
        result = await service.import_products(
            session, outbox=runtime.outbox, products=pictured, if_empty=True, then=store_pictures
        )
    if result.created:
        log.info(
            "loaded the demo catalog: %d products, their pictures drawn in %.2f s",
            result.created,
            drawn,
        )


def _demo_items(raw: bytes) -> list[Any]:
    items = _items(parse_json(raw))
    if isinstance(items, ImportIssue):
        raise RuntimeError(f"the demo catalog is invalid: {items}")
    return items


def _with_picture(product: ProductFields, image_id: str) -> ProductFields:
    """A demo product listing its drawn picture (and no other)."""
    images, thumbnail = with_image([], None, image_id)
    return ProductFields(**{**product, "images": images, "thumbnail": thumbnail})
