"""The API shapes of import jobs (`catalog.import_routes`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.catalog.schemas import ImportIn, ImportIssue

__all__ = ["ImportJobIn", "ImportJobOut"]

JOB_EXAMPLE: dict[str, Any] = {
    "id": "3f0c9a52-5d1e-4a8e-9a43-0d6d6f6ac1d2",
    "state": "writing",
    "finished": False,
    "owner": "6b1f4a0e-2c4d-4f7e-9a3b-1d2e3f4a5b6c",
    "source": "api",
    "filename": "teas.json",
    "total": 2500,
    "done": 1000,
    "created": 950,
    "updated": 40,
    "unchanged": 10,
    "errors": [],
    "message": None,
    "started_at": "2026-12-06T14:00:00Z",
    "updated_at": "2026-12-06T14:00:01Z",
    "finished_at": None,
}


class ImportJobIn(ImportIn):
    """An import job: the products, and the name of the file they came from, if any."""

    filename: str | None = Field(
        default=None, max_length=255, description="The file's name, shown with the job."
    )


class ImportJobOut(BaseModel):
    """An import job and its progress (`catalog.jobs`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [JOB_EXAMPLE]})

    id: str = Field(description="The job's id.")
    state: str = Field(
        description="`checking`, `writing`, `done`, `failed`, or `interrupted` (its process "
        "stopped)."
    )
    finished: bool = Field(description="Whether it is over (done, failed or interrupted).")
    owner: str = Field(description="Who started it: a token's subject, or the command line.")
    source: str = Field(description="`api` or `file`.")
    filename: str | None = Field(description="The file's name, if given.")
    total: int | None = Field(description="Items to import, once known.")
    done: int = Field(description="Items written (committed).")
    created: int = Field(description="Products that were new.")
    updated: int = Field(description="Products that changed.")
    unchanged: int = Field(description="Products already as sent.")
    errors: list[ImportIssue] = Field(description="Problems found: then nothing was written.")
    message: str | None = Field(description="Why it failed, when it did.")
    started_at: datetime = Field(description="When it started.")
    updated_at: datetime = Field(description="When it last moved.")
    finished_at: datetime | None = Field(description="When it ended.")
