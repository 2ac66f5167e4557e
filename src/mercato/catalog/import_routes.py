"""Import jobs over HTTP: `POST /api/catalog/imports` starts one, `GET .../{id}` follows it.

    POST /api/catalog/imports        {"products": [...], "filename"?} (admin)
                                     -> 202 the job, Location
    GET  /api/catalog/imports/{id}   (admin) -> 200 the job; 404 when there is none

The job form of `POST /api/catalog/products/import` (which stays, answering when all
is written): the answer comes at once and the import runs in the background of the
replica that took it, its progress in the database (`catalog.jobs`) so that any
replica answers the GET. Problems in the items end the job `failed` with `errors`,
nothing written. Any administrator may follow any job (see `catalog.jobs`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from mercato.catalog import jobs
from mercato.catalog.import_schemas import ImportJobIn, ImportJobOut
from mercato.catalog.settings import CatalogRuntime
from mercato.chassis.security.tokens import Admin
from mercato.chassis.web.dependencies import SessionDep, runtime_of
from mercato.chassis.web.errors import NotFound
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse
from mercato.chassis.web.openapi import problems

__all__ = ["router"]

router = APIRouter(prefix="/api/catalog", tags=["catalog"], route_class=StrictJsonRoute)
Catalog = Annotated[CatalogRuntime, Depends(runtime_of)]
JobId = Annotated[str, Path(description="The import job's id.", max_length=64)]


@router.post("/imports", status_code=202, response_model=ImportJobOut)
async def start_import(import_in: ImportJobIn, runtime: Catalog, admin: Admin) -> Response:
    """Start importing products in the dummyjson format, upserted by SKU (admin)."""
    database = runtime.database
    job_id = await jobs.create_job(
        database,
        owner=admin.subject,
        source="api",
        filename=import_in.filename,
        total=len(import_in.products),
    )
    items = list(import_in.products)

    async def run() -> None:
        try:
            await jobs.run_items_job(
                database, runtime.outbox, job_id, items, currency=runtime.settings.currency
            )
        finally:
            runtime.context.search_cache.clear()  # cached answers may show what changed

    runtime.context.run_job(run())
    async with database.session() as session:
        job = await jobs.read_job(session, job_id)
    assert job is not None
    location = f"{router.prefix}/imports/{job_id}"
    return JsonResponse(jobs.job_body(job), status_code=202, headers={"Location": location})


@router.get(
    "/imports/{job_id}",
    response_model=ImportJobOut,
    responses=problems({404: "No such import job."}),
)
async def read_import(job_id: JobId, session: SessionDep, _: Admin) -> Response:
    """An import job and its progress (admin); 404 when there is none."""
    job = await jobs.read_job(session, job_id)
    if job is None:
        raise NotFound(f"There is no import job {job_id}.")
    return JsonResponse(jobs.job_body(job), headers={"Cache-Control": "no-store"})
