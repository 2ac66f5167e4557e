"""Products loaded from files: `mercato import-products PATH` and the demo catalog.

Both go through the same path as `POST /products/import`: the dummyjson format,
validated whole, upserted by SKU in one transaction with an event per change in the
outbox. The demo catalog (`demo/products.json`) is loaded at start when the
`demo_data` setting is on and the products table is empty; the emptiness check runs
under the write lock, so replicas starting together load it once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from mercato.catalog import service
from mercato.catalog.dummyjson import parse_products
from mercato.catalog.models import EVENTS, MIGRATIONS
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
    settings: CatalogSettings, path: Path | str, *, progress: ImportProgress | None = None
) -> ImportResult:
    """Migrate the catalog's database and import a dummyjson file into it."""
    if progress is not None:
        progress.stage(f"reading {Path(path).name}")
    raw = await asyncio.to_thread(Path(path).read_bytes)
    db = Database(settings.sqlalchemy_url)
    try:
        await upgrade(db, MIGRATIONS, "catalog")
        outbox = Outbox(EVENTS, source="catalog")
        return await import_document(db, outbox, raw, currency=settings.currency, progress=progress)
    finally:
        await db.dispose()


async def load_demo_data(runtime: CatalogRuntime) -> None:
    """Start step: load the demo catalog into an empty products table if enabled."""
    settings = runtime.settings
    if not settings.demo_data:
        return
    raw = await asyncio.to_thread(DEMO_FILE.read_bytes)
    result = await import_document(
        runtime.database, runtime.outbox, raw, currency=settings.currency, if_empty=True
    )
    if result.errors:
        raise RuntimeError(f"the demo catalog is invalid: {result.errors[0]}")
    if result.created:
        log.info("loaded the demo catalog: %d products", result.created)
