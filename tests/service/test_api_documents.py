"""Service tests holding every service to its OpenAPI document: callers and statuses.

Each service runs in-process (SQLite, no broker) and every operation of its
document is sent a request as each kind of caller: none, a customer, an
administrator and another service, with a placeholder for each path parameter, an
empty JSON object as body and an `Idempotency-Key` where one is required. The
document says an operation needs a token (`security`) exactly when the request
without one is a 401; and every status any of these requests gets, error or not, is
one the operation lists itself (not only under `default`), answered as a problem
when it is an error.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from mercato.chassis.web.errors import PROBLEM_JSON
from tests.support.apps import running
from tests.support.documents import SERVICES, Operation, operations, service_app
from tests.support.tokens import TokenFactory


def callers(tokens: TokenFactory, service: str) -> dict[str, dict[str, str]]:
    """The Authorization header of each kind of caller (none: no header)."""
    return {
        "anonymous": {},
        "customer": tokens.headers(roles=["customer"]),
        "admin": tokens.headers(roles=["customer", "admin"]),
        "service": tokens.headers("service:probe", ["service"], typ="service", aud=service),
    }


def probe(op: Operation) -> dict[str, Any]:
    """The request to send `op`: its path filled in, a body and a key where it takes them."""
    path = op.path
    for parameter in op.spec.get("parameters", []):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", "probe-1")
    request: dict[str, Any] = {"method": op.method.upper(), "url": path, "headers": {}}
    if "requestBody" in op.spec:
        request["json"] = {}
    if any(p["name"] == "Idempotency-Key" for p in op.spec.get("parameters", [])):
        request["headers"]["Idempotency-Key"] = f"probe-{uuid.uuid4()}"
    return request


async def answers(
    client: httpx.AsyncClient, op: Operation, headers: dict[str, str]
) -> httpx.Response:
    request = probe(op)
    request["headers"].update(headers)
    return await client.request(**request)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_answer_is_one_the_document_lists(
    service: str, tokens: TokenFactory, tmp_path: Path
) -> None:
    app = service_app(service, tmp_path)
    document = app.openapi()
    undocumented: list[str] = []
    async with running(app, tokens) as client:
        for op in operations(document):
            listed = op.spec["responses"]
            for caller, headers in callers(tokens, service).items():
                answer = await answers(client, op, headers)
                status = str(answer.status_code)
                where = f"{op.spec['operationId']} as {caller}: {status}"
                if status not in listed:
                    undocumented.append(f"{where} {answer.text[:200]}")
                if answer.status_code >= 400:
                    assert answer.headers["content-type"] == PROBLEM_JSON, where
                if caller == "anonymous":
                    secured = "security" in op.spec
                    assert (answer.status_code == 401) == secured, where
    assert undocumented == []


async def test_a_route_whose_guard_refuses_a_role_documents_its_403(
    tokens: TokenFactory, tmp_path: Path
) -> None:
    app = service_app("logs", tmp_path)
    [listing] = [op for op in operations(app.openapi()) if op.path == "/api/logs/events"]
    async with running(app, tokens) as client:
        customer = await answers(client, listing, tokens.headers(roles=["customer"]))
        admin = await answers(client, listing, tokens.headers(roles=["admin"]))
    assert customer.status_code == 403
    assert listing.spec["responses"]["403"]["description"] == "The token is not an administrator's."
    assert admin.status_code == 200
