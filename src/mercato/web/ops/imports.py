"""`/ops/catalog/import`: a products file uploaded, imported by the catalog with a progress bar.

    GET  /ops/catalog/import                  the upload form
    POST /ops/catalog/import                  read the file, start the catalog's import job,
                                              go to its page
    GET  /ops/catalog/import/{job}            its progress (a <progress> bar), then its
                                              result; the page reloads itself every 2 s
                                              while it runs when scripts do not
    GET  /ops/catalog/import/{job}/status     the same as JSON, which the page's script
                                              polls to move the bar

The job is the catalog's (`POST /api/catalog/imports`): its progress is in the
catalog's database, so any web replica shows it (`import_jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import JSONResponse, RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_catalog
from mercato.web.api.backend import ApiError, Caller
from mercato.web.errors import PageNotFound
from mercato.web.forms import Field, FormView, form_view
from mercato.web.ops.access import admin
from mercato.web.ops.import_jobs import JobStatus, read_products
from mercato.web.ops.nav import ops_page
from mercato.web.ops.uploads import UploadTooLarge, read_upload
from mercato.web.rendering import NO_STORE
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["ImportView", "JobView", "import_view", "job_view", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
FORM = "/ops/catalog/import"
FIELDS = (
    Field(
        "file",
        "Products file",
        "file",
        None,
        hint='JSON: {"products": [...]} as dummyjson.com lists them, or a list of products.',
    ),
)
GONE = "There is no import {id}."


@dataclass(frozen=True, slots=True)
class ImportView:
    """The upload form."""

    form: FormView
    limit: str


def import_view(
    csrf_token: str, limit: int, *, error: str | None = None, message: str | None = None
) -> ImportView:
    """The upload form; `error` beside the file, `message` above."""
    form = form_view(
        "import",
        FIELDS,
        action=FORM,
        submit="Import",
        csrf_token=csrf_token,
        errors={"file": error} if error else None,
        message=message,
    )
    size = f"{limit // 1024} KiB" if limit < 1024 * 1024 else f"{limit / 1024 / 1024:.0f} MiB"
    return ImportView(form, size)


@dataclass(frozen=True, slots=True)
class JobView:
    """An import's page."""

    id: str
    filename: str
    total: int
    sent: int
    done: bool
    failed: bool
    message: str
    status_href: str


def job_view(job: JobStatus) -> JobView:
    """The page of `job` as it stands."""
    return JobView(
        id=job.id,
        filename=job.filename,
        total=job.total,
        sent=job.sent,
        done=job.done,
        failed=job.failed,
        message=job.message,
        status_href=f"{FORM}/{quote(job.id, safe='')}/status",
    )


async def _form_page(shopper: Shopper, view: ImportView, *, status: int = 200) -> Response:
    return await ops_page(shopper, "ops/import.html", "Import products", view, status=status)


@router.get("/ops/catalog/import")
async def import_page(shopper: ShopperDep) -> Response:
    """The upload form."""
    await admin(shopper)
    limit = shopper.ctx.settings.console_upload_bytes
    return await _form_page(shopper, import_view(await shopper.csrf_token(), limit))


@router.post("/ops/catalog/import")
async def start_import(shopper: ShopperDep) -> Response:
    """Read the file and start the catalog's import job; the job's page."""
    caller = await admin(shopper)
    limit = shopper.ctx.settings.console_upload_bytes
    try:
        _, upload = await read_upload(shopper, field="file", max_bytes=limit)
    except UploadTooLarge:
        view = import_view(shopper.record_csrf(), limit, error="The file is too large.")
        return await _form_page(shopper, view, status=413)
    if upload is None:
        view = import_view(shopper.record_csrf(), limit, error="Choose a products file.")
        return await _form_page(shopper, view, status=422)
    try:
        products = read_products(upload.data)
    except ValueError as exc:
        view = import_view(shopper.record_csrf(), limit, error=str(exc))
        return await _form_page(shopper, view, status=422)

    filename = upload.filename or "products.json"
    try:
        job = await ops_catalog.start_import(caller, products, filename=filename)
    except ApiError as exc:  # the catalog refused the whole (too large a body, ...)
        view = import_view(
            shopper.record_csrf(), limit, error=f"The catalog refused it: {exc.detail}"
        )
        return await _form_page(shopper, view, status=422)
    return RedirectResponse(f"{FORM}/{quote(job.id, safe='')}", status_code=303)


async def _job(caller: Caller, job_id: str) -> JobStatus:
    try:
        return JobStatus.of(await ops_catalog.import_job(caller, job_id))
    except ApiError as exc:
        if exc.status == 404:
            raise PageNotFound(GONE.format(id=job_id)) from None
        raise


@router.get("/ops/catalog/import/{job_id}")
async def job_page(job_id: str, shopper: ShopperDep) -> Response:
    """The import's progress, then its result."""
    job = await _job(await admin(shopper), job_id)
    return await ops_page(shopper, "ops/import_job.html", "Import products", job_view(job))


@router.get("/ops/catalog/import/{job_id}/status")
async def job_status(job_id: str, shopper: ShopperDep) -> Response:
    """The import's progress as JSON, for the page's script."""
    job = await _job(await admin(shopper), job_id)
    return JSONResponse(job.body(), headers={"Cache-Control": NO_STORE})
