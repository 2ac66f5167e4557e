"""An import of a products file, sent on to the catalog in batches, its progress kept.

`read_products(data)` reads an uploaded file: JSON, either the dummyjson format the
catalog imports (`{"products": [...]}`) or a bare list of products (ValueError says
what is wrong). `ImportJobs.start` keeps a job (`ImportJob`: how many products, how
many sent, what the catalog did with them) and sends them in batches of `BATCH`
through `POST /api/catalog/products/import`, one after the other, in a task of this
process. Each batch is all or nothing at the catalog; a batch it refuses stops the
import there (what was sent before stays imported) and the job says which products
and why. Jobs live in this process's memory: the last `KEEP` are kept, and a page
asking for a job another replica runs finds none (docs/console.md).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from mercato.web.api.backend import ApiError, BackendDown
from mercato.web.api.ops_catalog import ImportResult

__all__ = ["BATCH", "MAX_PRODUCTS", "ImportJob", "ImportJobs", "read_products"]

log = logging.getLogger("mercato.web.ops.imports")
BATCH = 100
MAX_PRODUCTS = 10_000
KEEP = 20
Send = Callable[[list[Any]], Awaitable[ImportResult]]


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


@dataclass
class ImportJob:
    """One import: its products, how far it got, and what the catalog said."""

    id: str
    filename: str
    total: int
    sent: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    done: bool = False
    failure: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def message(self) -> str:
        """Where the import stands, in a sentence."""
        counts = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.failure is not None:
            return f"Stopped after {self.sent} of {self.total} products ({counts}): {self.failure}"
        if self.done:
            return f"Imported all {self.total} products: {counts}."
        return f"Sent {self.sent} of {self.total} products ({counts})."

    def status(self) -> dict[str, Any]:
        """The job as its status endpoint answers it (JSON)."""
        return {
            "id": self.id,
            "total": self.total,
            "sent": self.sent,
            "done": self.done,
            "failed": self.failure is not None,
            "message": self.message,
        }


def _refusal(exc: Exception, first: int, last: int) -> str:
    where = f"products {first} to {last} of the file"
    if isinstance(exc, ApiError):
        return (
            f"the catalog refused {where} ({exc.status}): {exc.detail} "
            "(an item's number counts from 0 within those products)"
        )
    return f"the catalog could not be reached for {where}: {exc}"


class ImportJobs:
    """The imports this process runs or ran (the last `KEEP`)."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, ImportJob] = OrderedDict()

    def get(self, job_id: str) -> ImportJob | None:
        """The job `job_id`, if this process has it."""
        return self._jobs.get(job_id)

    def start(self, filename: str, products: Sequence[Any], send: Send) -> ImportJob:
        """A new job sending `products` in batches with `send`, started now."""
        job = ImportJob(secrets.token_urlsafe(12), filename, len(products))
        self._jobs[job.id] = job
        while len(self._jobs) > KEEP:
            self._jobs.popitem(last=False)
        job.task = asyncio.create_task(self._run(job, list(products), send))
        return job

    async def _run(self, job: ImportJob, products: list[Any], send: Send) -> None:
        try:
            for start in range(0, len(products), BATCH):
                batch = products[start : start + BATCH]
                try:
                    result = await send(batch)
                except (ApiError, BackendDown) as exc:
                    job.failure = _refusal(exc, start + 1, start + len(batch))
                    log.warning("import %s stopped: %s", job.id, job.failure)
                    return
                job.sent += len(batch)
                job.created += result.created
                job.updated += result.updated
                job.unchanged += result.unchanged
        except Exception as exc:  # a bug must still end the job, not leave it "running"
            job.failure = f"the import failed ({type(exc).__name__})"
            log.exception("import %s failed", job.id)
        finally:
            job.done = True
