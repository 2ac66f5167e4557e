"""An uploaded products file, read; and an import job of the catalog, as the console shows it.

`read_products(data)` reads an uploaded file: JSON, either the dummyjson format the
catalog imports (`{"products": [...]}`) or a bare list of products (ValueError says
what is wrong). The console hands the products to the catalog as one import job
(`POST /api/catalog/imports`), which checks them all, writes them in batches and
keeps its progress in the catalog's database: every web replica reads the same job
(`GET /api/catalog/imports/{id}`), so a page refreshed on another replica still
follows it. `JobStatus.of(job)` is what the page and its script show: how many
products are written of how many, whether it is over, and a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from mercato.web.api.ops_catalog import ImportJob

__all__ = ["MAX_PRODUCTS", "JobStatus", "read_products"]

MAX_PRODUCTS = 10_000  # what one call to the catalog takes
SHOWN_PROBLEMS = 5


def read_products(data: bytes) -> list[Any]:
    """The products of an uploaded file (ValueError: why it is not a products file)."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"The file is not JSON ({exc}).") from None
    items = document.get("products") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ValueError('The file holds no list of products: {"products": [...]} or [...].')
    if not items:
        raise ValueError("The file holds no product.")
    if len(items) > MAX_PRODUCTS:
        raise ValueError(f"The file holds {len(items)} products; at most {MAX_PRODUCTS} at once.")
    if not all(isinstance(item, dict) for item in items):
        raise ValueError("Every product must be an object with its fields.")
    return items


def _message(job: ImportJob, total: int) -> str:
    counts = f"{job.created} created, {job.updated} updated, {job.unchanged} unchanged"
    if job.state == "done":
        return f"Imported all {total} products: {counts}."
    if job.errors:
        problems = "; ".join(
            f"product {e.index} ({e.field}): {e.message}" if e.index is not None else e.message
            for e in job.errors[:SHOWN_PROBLEMS]
        )
        more = f" (and {len(job.errors) - SHOWN_PROBLEMS} more)" if len(job.errors) > 5 else ""
        return f"Nothing was imported; the catalog refused {problems}{more}."
    if job.state == "failed":
        return f"Stopped after {job.done} of {total} products ({counts}): {job.message}"
    if job.state == "interrupted":
        return (
            f"Stopped after {job.done} of {total} products ({counts}): the catalog "
            "instance running it went away; import the file again (SKUs are upserted)."
        )
    if job.state == "checking":
        return f"Checking {total} products."
    return f"Imported {job.done} of {total} products ({counts})."


@dataclass(frozen=True, slots=True)
class JobStatus:
    """An import as the console shows it."""

    id: str
    filename: str
    total: int
    sent: int
    done: bool
    failed: bool
    message: str

    @classmethod
    def of(cls, job: ImportJob) -> JobStatus:
        """The status of the catalog's `job`."""
        total = job.total or 0
        return cls(
            id=job.id,
            filename=job.filename or "products.json",
            total=total,
            sent=job.done,
            done=job.finished,
            failed=job.state in ("failed", "interrupted"),
            message=_message(job, total),
        )

    def body(self) -> dict[str, Any]:
        """The job as its status endpoint answers it (JSON)."""
        return {
            "id": self.id,
            "total": self.total,
            "sent": self.sent,
            "done": self.done,
            "failed": self.failed,
            "message": self.message,
        }
