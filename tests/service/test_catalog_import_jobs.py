"""Service tests of import jobs: `POST /api/catalog/imports` and following its progress."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mercato.catalog import file_import, jobs
from mercato.catalog.app import create_app
from mercato.catalog.models import ImportJob
from mercato.catalog.settings import load_settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory

API = "/api/catalog"
ADMIN = "admin-1"


def products(count: int) -> list[dict[str, Any]]:
    return [
        {"sku": f"JOB-{n:04d}", "title": f"Teapot {n}", "price": 12.5, "stock": 4,
         "category": "kitchen"}
        for n in range(count)
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_import, "BATCH", 7)
    monkeypatch.setattr(jobs, "BATCH", 7)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(ADMIN, roles=["admin"])


async def finished(client: httpx.AsyncClient, location: str, headers: dict[str, str]) -> Any:
    for _ in range(400):
        job = (await client.get(location, headers=headers)).json()
        if job["finished"]:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"the job did not end: {job}")


async def test_a_job_imports_in_batches_and_tells_its_progress(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    answer = await client.post(f"{API}/imports", json={"products": products(30)}, headers=admin)
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert answer.headers["location"] == f"{API}/imports/{started['id']}"
    assert (started["state"], started["total"], started["owner"]) == ("checking", 30, ADMIN)
    job = await finished(client, answer.headers["location"], admin)
    assert (job["state"], job["done"], job["created"], job["errors"]) == ("done", 30, 30, [])
    found = (await client.get(f"{API}/products", params={"q": "teapot", "limit": 50})).json()
    assert len(found["items"]) == 30
    again = await client.post(f"{API}/imports", json={"products": products(10)}, headers=admin)
    job = await finished(client, again.headers["location"], admin)
    assert (job["done"], job["created"], job["unchanged"]) == (10, 0, 10)


async def test_bad_items_fail_the_job_naming_each_and_nothing_is_written(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    items = products(20)
    items[3]["price"] = "cheap"
    items[15]["stock"] = -2
    answer = await client.post(f"{API}/imports", json={"products": items}, headers=admin)
    job = await finished(client, answer.headers["location"], admin)
    assert (job["state"], job["done"], job["created"]) == ("failed", 0, 0)
    assert [(e["index"], e["field"]) for e in job["errors"]] == [(3, "price"), (15, "stock")]
    assert "Nothing was imported" in job["message"]
    assert (await client.get(f"{API}/products")).json()["items"] == []


async def test_a_body_not_in_the_format_is_422_and_starts_no_job(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    answer = await client.post(f"{API}/imports", json={"items": []}, headers=admin)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


async def test_only_admins_start_or_follow_jobs_and_any_admin_follows_any(
    client: httpx.AsyncClient, admin: dict[str, str], tokens: TokenFactory
) -> None:
    body = {"products": products(3)}
    customer = tokens.headers(roles=["customer"])
    assert (await client.post(f"{API}/imports", json=body)).status_code == 401
    refused = await client.post(f"{API}/imports", json=body, headers=customer)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    location = (await client.post(f"{API}/imports", json=body, headers=admin)).headers["location"]
    assert (await client.get(location, headers=customer)).status_code == 403
    assert (await client.get(location)).status_code == 401
    other_admin = tokens.headers("admin-2", roles=["admin"])
    job = await finished(client, location, other_admin)
    assert (job["owner"], job["state"]) == (ADMIN, "done")


async def test_an_unknown_job_is_404_problem(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    answer = await client.get(f"{API}/imports/no-such-job", headers=admin)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 404


async def test_a_replica_sharing_the_database_tells_the_progress_of_another_ones_job(
    tmp_path: Path, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="")
    one, two = create_app(settings), create_app(settings)
    async with running(one, tokens) as first, running(two, tokens) as second:
        answer = await first.post(f"{API}/imports", json={"products": products(40)}, headers=admin)
        job = await finished(second, answer.headers["location"], admin)
        assert (job["state"], job["done"], job["created"]) == ("done", 40, 40)


def test_a_job_that_stopped_moving_reads_as_interrupted() -> None:
    now = datetime.now(UTC)
    job = ImportJob(
        id="j", owner="o", source="api", filename=None, state="writing", total=10, done=3,
        created=3, updated=0, unchanged=0, errors=[], message=None, started_at=now,
        updated_at=now, finished_at=None,
    )  # fmt: skip
    assert jobs.job_body(job, now=now)["state"] == "writing"
    later = now + timedelta(seconds=jobs.STALE_SECONDS + 1)
    assert jobs.job_body(job, now=later)["state"] == "interrupted"
    assert jobs.job_body(job, now=later)["finished"] is True
    job.state = "done"
    assert jobs.job_body(job, now=later)["state"] == "done"
