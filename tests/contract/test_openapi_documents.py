"""Contract tests of every service's OpenAPI document: valid, complete, stable.

Each document validates against the OpenAPI specification's schema
(openapi-spec-validator). Its operation ids are `<service>_<verb>_<thing>`, unique
across the services, and exactly the list below: an id is part of every generated
client, so changing one is a deliberate change of this list. Every field of every
schema and every parameter has a description; every error answer is a problem in
`application/problem+json`; an operation that needs a token says so (`bearerAuth`)
and lists 401; a path parameter names a thing that may be absent (404); every
request body and 2xx answer shows an example, and the example is valid against its
own schema. What the services answer is held to the documents by
`tests/service/test_api_documents.py`.
"""

from __future__ import annotations

import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.support.documents import SERVICES, Operation, operations, schema_validator, service_app

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
}
# Every operation id, by service: what generated clients call the operations.
OPERATION_IDS = {
    "auth": [
        "auth_register",
        "auth_login",
        "auth_refresh",
        "auth_logout",
        "auth_read_me",
        "auth_issue_service_token",
        "auth_set_roles",
        "auth_rotate_keys",
        "auth_read_jwks",
    ],
    "users": ["users_read_me", "users_update_me", "users_list_profiles", "users_read_profile"],
    "catalog": [
        "catalog_list_products",
        "catalog_create_product",
        "catalog_read_product",
        "catalog_update_product",
        "catalog_replace_product",
        "catalog_delete_product",
        "catalog_import_products",
        "catalog_list_categories",
        "catalog_create_category",
        "catalog_restock_product",
        "catalog_reserve_stock",
        "catalog_read_reservation",
        "catalog_commit_reservation",
        "catalog_release_reservation",
        "catalog_upload_image",
        "catalog_list_images",
        "catalog_delete_image",
        "catalog_read_image",
        "catalog_start_import",
        "catalog_read_import",
        "catalog_restock_return",
    ],
    "orders": [
        "orders_read_cart",
        "orders_empty_cart",
        "orders_set_cart_item",
        "orders_remove_cart_item",
        "orders_place_order",
        "orders_list_orders",
        "orders_list_attention",
        "orders_read_order",
        "orders_cancel_order",
        "orders_resume_order",
        "orders_list_return_attention",
        "orders_resume_return",
        # shipping and discount codes
        "orders_set_cart_discount",
        "orders_remove_cart_discount",
        "orders_cart_shipping",
        "orders_create_discount",
        "orders_list_discounts",
        "orders_read_discount",
        "orders_update_discount",
    ],
    "payments": [
        "payments_list_methods",
        "payments_add_method",
        "payments_read_method",
        "payments_delete_method",
        "payments_charge_card",
        "payments_list_payments",
        "payments_read_payment",
        "payments_refund_payment",
        "payments_list_refunds",
    ],
    "logs": [
        "logs_list_events",
        "logs_read_event",
        "logs_list_dead_letters",
        "logs_read_dead_letter",
        "logs_replay_dead_letter",
    ],
    "shipping": [
        "shipping_get_quotes",
        "shipping_list_methods",
        "shipping_create_method",
        "shipping_update_method",
        "shipping_list_rates",
        "shipping_create_rate",
        "shipping_update_rate",
        "shipping_delete_rate",
        "shipping_list_shipments",
        "shipping_read_shipment",
        "shipping_pack_shipment",
        "shipping_ship_shipment",
        "shipping_deliver_shipment",
        "shipping_split_shipment",
        "shipping_request_return",
        "shipping_list_returns",
        "shipping_read_return",
        "shipping_accept_return",
        "shipping_reject_return",
        "shipping_receive_return",
    ],
}
PUBLIC = {
    "auth_register",
    "auth_login",
    "auth_refresh",
    "auth_issue_service_token",
    "auth_read_jwks",
    "catalog_list_products",
    "catalog_read_product",
    "catalog_list_categories",
    "catalog_list_images",
    "catalog_read_image",
    "shipping_get_quotes",
}
# Path parameters that name no thing to find: a cart line may be absent (a 422 or fine).
# A return id names the restock to make (one per return), never one to find.
NO_404 = {"orders_set_cart_item", "orders_remove_cart_item", "catalog_restock_return"}


# The apps' data directories: no lifespan runs, so no database is ever opened in them.
DATA = tempfile.TemporaryDirectory(prefix="mercato-documents-")


@cache
def document(service: str) -> dict[str, Any]:
    """The document `service` serves (built once per test run)."""
    built: dict[str, Any] = service_app(service, Path(DATA.name) / service).openapi()
    return built


def every_operation() -> list[tuple[str, Operation]]:
    return [(service, op) for service in SERVICES for op in operations(document(service))]


def op_id(case: tuple[str, Operation]) -> str:
    return str(case[1].spec["operationId"])


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi(service: str) -> None:
    doc = document(service)
    assert doc["openapi"].startswith("3.1.")
    validate(doc)


def test_the_validator_refuses_a_broken_document() -> None:
    broken = {**document("logs"), "paths": {"/api/logs/events": {"get": {"responses": "none"}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_operation_ids_are_stable_meaningful_and_unique() -> None:
    found = {s: [op.spec["operationId"] for op in operations(document(s))] for s in SERVICES}
    assert {s: sorted(ids) for s, ids in found.items()} == {
        s: sorted(ids) for s, ids in OPERATION_IDS.items()
    }
    every = [op for ops in found.values() for op in ops]
    assert len(every) == len(set(every))
    for service, ids in found.items():
        for operation_id in ids:
            assert re.fullmatch(rf"{service}_[a-z]+(_[a-z]+)*", operation_id), operation_id


@pytest.mark.parametrize("service", SERVICES)
def test_every_field_and_parameter_is_described(service: str) -> None:
    doc = document(service)
    undescribed = [
        f"{name}.{field}"
        for name, schema in doc["components"]["schemas"].items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    undescribed += [
        f"{op.method} {op.path} {parameter['name']}"
        for op in operations(doc)
        for parameter in op.spec.get("parameters", [])
        if not parameter.get("description")
    ]
    assert undescribed == []
    assert all(op.spec.get("summary") or op.spec.get("description") for op in operations(doc))


@pytest.mark.parametrize("case", every_operation(), ids=op_id)
def test_a_token_is_required_where_the_route_needs_one(case: tuple[str, Operation]) -> None:
    service, op = case
    schemes = document(service)["components"].get("securitySchemes", {})
    if op.spec["operationId"] in PUBLIC:
        assert "security" not in op.spec
        return
    assert op.spec["security"] == [{"bearerAuth": []}]
    assert {k: schemes["bearerAuth"][k] for k in BEARER} == BEARER
    assert op.spec["responses"]["401"]["content"] == PROBLEM
    assert "WWW-Authenticate" in op.spec["responses"]["401"]["headers"]


@pytest.mark.parametrize("case", every_operation(), ids=op_id)
def test_every_error_is_a_documented_problem(case: tuple[str, Operation]) -> None:
    _, op = case
    answers = op.spec["responses"]
    # Errors: 4xx, 5xx and `default` (a 304 Not Modified is an answer without a body).
    errors = {s: answer for s, answer in answers.items() if s == "default" or int(s) >= 400}
    assert {"429", "503", "504", "default"} <= set(errors)
    for status, answer in errors.items():
        assert answer["content"] == PROBLEM, status
        assert answer["description"], status
    assert "Retry-After" in answers["429"]["headers"]
    path_parameters = [p for p in op.spec.get("parameters", []) if p["in"] == "path"]
    if path_parameters and op.spec["operationId"] not in NO_404:
        assert "404" in answers
    if "requestBody" in op.spec:
        assert {"400", "413", "415", "422"} <= set(answers)
    keyed = [p for p in op.spec.get("parameters", []) if p["name"] == "Idempotency-Key"]
    if keyed:
        assert keyed[0]["required"] is True
        assert {"400", "409", "422"} <= set(answers)


@pytest.mark.parametrize("case", every_operation(), ids=op_id)
def test_bodies_and_answers_show_a_valid_example(case: tuple[str, Operation]) -> None:
    service, op = case
    doc = document(service)
    media = list(op.spec.get("requestBody", {}).get("content", {}).values())
    media += [
        content
        for status, answer in op.spec["responses"].items()
        if status.startswith("2")
        for content in answer.get("content", {}).values()
    ]
    for shown in media:
        if not shown.get("schema"):
            continue
        assert "example" in shown, shown["schema"]
        schema_validator(doc, shown["schema"]).validate(shown["example"])


def test_an_invalid_example_would_be_caught() -> None:
    doc = document("catalog")
    schema = {"$ref": "#/components/schemas/ProductOut"}
    product = doc["components"]["schemas"]["ProductOut"]["examples"][0]
    assert not list(schema_validator(doc, schema).iter_errors(product))
    wrong = {**product, "price": {"amount": "4.50", "currency": "USD"}}
    assert list(schema_validator(doc, schema).iter_errors(wrong))
