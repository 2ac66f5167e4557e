"""Import jobs: an import's progress kept in the catalog's database, for every replica.

An import of many products takes a while, so it runs as a job: `POST
/api/catalog/imports` answers 202 with the job at once and runs it in the process's
background, and `mercato import-products` runs its file as one too. A job goes
`checking` (every item validated before anything is written) then `writing` (one
batch at a time), and ends `done` or `failed`. Each batch updates its job's row in
the batch's own transaction (`batch_hook`), so the counts a reader sees are exactly
what is committed, whichever replica (or console) asks. A job with problems is
`failed` with `errors` (each item's index, field and message; a file's line too)
and nothing written; a batch refused after others (`ImportStopped`) leaves those
others written and says so in `message`.

A job whose process died stays `checking` or `writing`; one that has not moved for
`STALE_SECONDS` is shown as `interrupted` (a batch takes well under a second).

Who sees a job: any administrator. Imports are the operators' shared work, like the
catalog they change; the job names its `owner` (the token's subject, or the
command line), and the console lists what another administrator started.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.dummyjson import parse_products
from mercato.catalog.file_import import (
    BATCH,
    MAX_ISSUES,
    BatchHook,
    ImportStopped,
    write_batches,
)
from mercato.catalog.models import ImportJob, ProductFields
from mercato.catalog.schemas import ImportIssue, ImportResult
from mercato.chassis.data.database import Database
from mercato.chassis.events import Outbox

__all__ = [
    "STALE_SECONDS",
    "batch_hook",
    "create_job",
    "finish_job",
    "job_body",
    "read_job",
    "run_items_job",
    "start_writing",
]

log = logging.getLogger("mercato.catalog.jobs")
STALE_SECONDS = 120
_JOBS = cast(Table, ImportJob.__table__)


def _now() -> datetime:
    return datetime.now(UTC)


async def create_job(
    db: Database, *, owner: str, source: str, filename: str | None, total: int | None = None
) -> str:
    """A new job, `checking`; its id."""
    now = _now()
    job = ImportJob(
        id=str(uuid.uuid4()),
        owner=owner[:255],
        source=source,
        filename=filename[:255] if filename else None,
        state="checking",
        total=total,
        done=0,
        created=0,
        updated=0,
        unchanged=0,
        errors=[],
        message=None,
        started_at=now,
        updated_at=now,
        finished_at=None,
    )
    async with db.session() as session:
        session.add(job)
        await session.commit()
    return job.id


async def _set(db: Database, job_id: str, **values: Any) -> None:
    async with db.session() as session:
        await session.execute(
            update(_JOBS).where(_JOBS.c.id == job_id).values(updated_at=_now(), **values)
        )
        await session.commit()


async def start_writing(db: Database, job_id: str, *, total: int) -> None:
    """The job was checked and holds `total` items: it writes them now."""
    await _set(db, job_id, state="writing", total=total)


def batch_hook(job_id: str) -> BatchHook:
    """What each batch writes of the job's progress, in the batch's transaction."""

    async def record(session: AsyncSession, done: int, result: ImportResult) -> None:
        await session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id)
            .values(
                done=done,
                created=result.created,
                updated=result.updated,
                unchanged=result.unchanged,
                updated_at=_now(),
            )
        )

    return record


async def finish_job(
    db: Database,
    job_id: str,
    *,
    result: ImportResult,
    message: str | None = None,
    errors: Sequence[ImportIssue] = (),
    failed: bool = False,
) -> None:
    """The job is over: done, or failed with `errors` or `message`."""
    now = _now()
    await _set(
        db,
        job_id,
        state="failed" if failed or errors else "done",
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        errors=[issue.model_dump() for issue in errors[:MAX_ISSUES]],
        message=message,
        finished_at=now,
    )


async def read_job(session: AsyncSession, job_id: str) -> ImportJob | None:
    """The job `job_id`, or None."""
    return await session.get(ImportJob, job_id)


def _state(job: ImportJob, now: datetime) -> str:
    running = job.state in ("checking", "writing")
    if running and now - job.updated_at > timedelta(seconds=STALE_SECONDS):
        return "interrupted"
    return job.state


def job_body(job: ImportJob, *, now: datetime | None = None) -> dict[str, Any]:
    """The job as the API shows it (`ImportJobOut`)."""
    state = _state(job, now or _now())
    return {
        "id": job.id,
        "state": state,
        "finished": state in ("done", "failed", "interrupted"),
        "owner": job.owner,
        "source": job.source,
        "filename": job.filename,
        "total": job.total,
        "done": job.done,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "errors": job.errors,
        "message": job.message,
        "started_at": job.started_at,
        "updated_at": job.updated_at,
        "finished_at": job.finished_at,
    }


def _batches(products: list[ProductFields]) -> Iterator[tuple[int, list[ProductFields]]]:
    for start in range(0, len(products), BATCH):
        yield start, products[start : start + BATCH]


async def run_items_job(
    db: Database, outbox: Outbox, job_id: str, items: list[Any], *, currency: str
) -> ImportResult:
    """Check `items` (dummyjson products), then write them in batches, as the job says."""
    result = ImportResult()
    try:
        # Off the event loop: checking 10,000 items takes a few tenths of a second.
        products, issues = await asyncio.to_thread(parse_products, items, currency=currency)
        if issues:
            message = f"Nothing was imported: {len(issues)} problem(s) in the items."
            await finish_job(db, job_id, result=result, errors=issues, message=message)
            return ImportResult(errors=issues)
        await start_writing(db, job_id, total=len(items))
        result = await write_batches(
            db, outbox, _batches(products), total=len(items), on_batch=batch_hook(job_id)
        )
    except ImportStopped as stopped:
        await finish_job(db, job_id, result=stopped.result, message=stopped.message, failed=True)
        return stopped.result
    except Exception as exc:  # a bug or a database gone must still end the job
        log.exception("import job %s failed", job_id)
        message = f"The import failed ({type(exc).__name__})."
        await finish_job(db, job_id, result=result, message=message, failed=True)
        raise
    await finish_job(db, job_id, result=result)
    return result
