"""Unit tests of strict JSON bodies: what `parse_json` refuses and why, and who uses it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, TypeAdapter, ValidationError

from mercato.chassis.config import ServiceSettings
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web.app import create_app
from mercato.chassis.web.errors import install_error_handlers
from mercato.chassis.web.json_body import (
    MAX_DEPTH,
    NumberOutOfRange,
    StrictJsonRoute,
    WholeNumber,
    parse_json,
)


def refusal(raw: bytes) -> str:
    with pytest.raises(json.JSONDecodeError) as caught:
        parse_json(raw)
    return caught.value.msg


def test_accepts_json_and_keeps_integers_exact() -> None:
    raw = (
        b'{"a": [1, 2.5, "x\\u00e9", true, null],'
        b' "big": 18446744073709551615, "neg": -9223372036854775808}'
    )
    assert parse_json(raw) == {
        "a": [1, 2.5, "xé", True, None],
        "big": 2**64 - 1,
        "neg": -(2**63),
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": NaN}', "expected value"),
        (b'{"a": Infinity}', "expected value"),
        (b'{"a": -Infinity}', "invalid number"),
        (b'{"a": 1e999}', "a number is too large at a"),
        (b'{"a": [0, 18446744073709551616]}', "an integer does not fit in 64 bits at a.1"),
        (b'{"a": -9223372036854775809}', "an integer does not fit in 64 bits at a"),
        (b'{"a": {"b": "x\\u0000y"}}', "a string holds a NUL character (\\u0000) at a.b"),
        (b'{"a\\u0000": 1}', "a key holds a NUL character (\\u0000)"),
        (b'"\\u0000"', "a string holds a NUL character (\\u0000)"),
        (b'{"a": "\\ud800"}', "hex escape"),
        (b'{"a": "\xff"}', "invalid unicode code point"),
        (b'{"a": 1} x', "trailing characters"),
        (b'{"a": ', "EOF"),
    ],
)
def test_refuses_what_cannot_be_stored_or_sent_back(raw: bytes, reason: str) -> None:
    assert reason in refusal(raw)


def test_nesting_is_limited() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    deeper = b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    assert refusal(deeper) == f"nested deeper than {MAX_DEPTH} levels at a" + ".0" * (MAX_DEPTH - 1)


class Note(BaseModel):
    text: str


def note_app(route_class: type | None = None) -> FastAPI:
    router = APIRouter(route_class=route_class) if route_class else APIRouter()

    @router.post("/notes")
    async def post_note(note: Note) -> Note:
        return note

    @router.get("/notes")
    async def get_notes() -> list[Note]:
        return []

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    return app


async def post(app: FastAPI, body: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        headers = {"content-type": "application/json"}
        return await client.post("/notes", content=body, headers=headers)


async def test_a_strict_route_answers_400_naming_the_reason() -> None:
    app = note_app(StrictJsonRoute)
    response = await post(app, b'{"text": "a\\u0000b"}')
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == (
        "The request body cannot be read as JSON: a string holds a NUL character (\\u0000) at text."
    )
    assert (await post(app, b'{"text": "ab"}')).json() == {"text": "ab"}


async def test_fastapi_alone_would_have_accepted_the_nul() -> None:
    # The reason the chassis has its own route class: the default reads with `json`.
    response = await post(note_app(), b'{"text": "a\\u0000b"}')
    assert response.status_code == 200 and response.json() == {"text": "a\x00b"}


def test_routes_without_a_body_keep_fastapis_handler() -> None:
    router = APIRouter(route_class=StrictJsonRoute)

    @router.get("/x")
    async def read() -> dict[str, str]:
        return {}

    (route,) = router.routes
    assert isinstance(route, StrictJsonRoute)
    assert route.get_route_handler().__name__ != "strict_handler"


def test_the_app_factory_refuses_a_router_that_reads_bodies_with_json(tmp_path: Path) -> None:
    router = APIRouter(prefix="/api/demo")

    @router.post("/things")
    async def create_thing(note: Note) -> Note:
        return note

    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="demo", title="Demo", description="A test service."
    )
    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    with pytest.raises(TypeError, match="/api/demo/things: create the router with route_class"):
        create_app(spec, settings, [router], configure_logs=False)


WHOLE = TypeAdapter(WholeNumber)


@pytest.mark.parametrize(("raw", "value"), [(b"5", 5), (b"5.0", 5), (b"-3e2", -300), (b"0.0", 0)])
def test_a_whole_number_is_any_json_number_without_a_fraction(raw: bytes, value: int) -> None:
    parsed = WHOLE.validate_python(parse_json(raw))
    assert parsed == value
    assert type(parsed) is int


@pytest.mark.parametrize("raw", [b"5.5", b'"5"', b"true", b"null", b"1e-9"])
def test_a_whole_number_is_not_a_fraction_a_string_or_a_boolean(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        WHOLE.validate_python(parse_json(raw))


def test_a_whole_number_is_an_integer_in_the_document() -> None:
    assert WHOLE.json_schema() == {"type": "integer"}


class Line(BaseModel):
    quantity: WholeNumber


def line_app() -> FastAPI:
    router = APIRouter(route_class=StrictJsonRoute)

    @router.post("/notes")
    async def post_line(line: Line, extra: dict[str, list[int]] | None = None) -> Line:
        return line

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    return app


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"line": {"quantity": 100000000000000000000}}', "line.quantity"),
        (b'{"line": {"quantity": 1}, "extra": {"a": [1, -99999999999999999999]}}', "extra.a.1"),
    ],
)
async def test_an_integer_beyond_64_bits_is_the_fields_422(body: bytes, field: str) -> None:
    # Valid JSON, only larger than any field may hold: the field's error, not "bad JSON".
    response = await post(line_app(), body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["field"], error["in"], error["type"]) == (field, "body", "number_out_of_range")
    assert "64 bits" in error["message"]


async def test_json_that_cannot_be_read_stays_400_beside_the_range_check() -> None:
    app = line_app()
    for body in (b'{"line": {"quantity": NaN}}', b'{"line": {"quantity": 1e999}}', b'{"line": '):
        response = await post(app, body)
        assert response.status_code == 400, (body, response.text)
    assert (await post(app, b'{"line": {"quantity": 5}}')).json() == {"quantity": 5}


def test_out_of_range_is_still_a_json_error_for_other_readers() -> None:
    with pytest.raises(NumberOutOfRange) as caught:
        parse_json(b'{"a": [0, 18446744073709551616]}')
    assert isinstance(caught.value, json.JSONDecodeError)
    assert caught.value.path == ["a", "1"]
