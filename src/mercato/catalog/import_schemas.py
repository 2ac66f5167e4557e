"""The API shapes of import jobs (`catalog.import_routes`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mercato.catalog.schemas import ImportIn, ImportIssue

__all__ = ["ImportJobIn", "ImportJobOut"]


class ImportJobIn(ImportIn):
    """An import job: the products, and the name of the file they came from, if any."""

    filename: str | None = Field(default=None, max_length=255)


class ImportJobOut(BaseModel):
    """An import job and its progress (`catalog.jobs`): `state` is `checking`, `writing`,
    `done`, `failed` or `interrupted` (its process stopped)."""

    id: str
    state: str
    finished: bool = Field(description="Whether it is over (done, failed or interrupted).")
    owner: str = Field(description="Who started it: a token's subject, or the command line.")
    source: str = Field(description="`api` or `file`.")
    filename: str | None
    total: int | None = Field(description="Items to import, once checked.")
    done: int = Field(description="Items written (committed).")
    created: int
    updated: int
    unchanged: int
    errors: list[ImportIssue] = Field(description="Problems found: then nothing was written.")
    message: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
