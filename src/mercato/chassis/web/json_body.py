"""Request bodies read as strict JSON: what a service accepts, it can store and send back.

Starlette reads bodies with Python's `json` module, which accepts `NaN` and `Infinity`,
keeps lone surrogates and integers of any size. None of these can be written back
out by orjson, and PostgreSQL stores no NUL character in text or jsonb. Such a body
used to be accepted and then fail, on commit or, worse, on every later read: one
product with a 30-digit attribute broke the catalog's listing for everyone.

`parse_json` is the one reader: pydantic-core's parser (strict UTF-8, no lone
surrogates, no `NaN`/`Infinity`, exact integers), then a walk that refuses what the
parser lets through: NUL characters, non-finite numbers (`1e999`), integers beyond
64 bits and nesting deeper than `MAX_DEPTH`. Every router of a service uses
`StrictJsonRoute`, so every JSON body is read this way; a refusal is a
`json.JSONDecodeError`, which FastAPI answers as a 400 that names the reason.

An integer beyond 64 bits is the one refusal that is not about the JSON: `10**20` is
a valid JSON number, only larger than any field of the API may hold. So it is a
`NumberOutOfRange` (still a `json.JSONDecodeError` for other readers), which a
route answers as the 422 of the field that holds it (`quantity: must be an integer
of at most 64 bits`), as it answers any other value beyond a field's bounds.

`WholeNumber` is the field type of the integers a body carries (amounts, stock,
quantities): JSON has one kind of number, and the OpenAPI document's `integer`
admits `5.0` as the number 5, so it does too; `5.5`, `"5"` and `true` are refused.
"""

from __future__ import annotations

import email.message
import json
import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BeforeValidator, Strict
from pydantic_core import from_json

__all__ = [
    "MAX_DEPTH",
    "NumberOutOfRange",
    "StrictJsonRequest",
    "StrictJsonRoute",
    "WholeNumber",
    "parse_json",
]

MAX_DEPTH = 32
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1  # orjson writes signed and unsigned 64-bit integers
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))


def _whole_float_as_int(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_float_as_int), Strict()]


class _Refused(Exception):
    """A value the walk refuses; `path` is filled in on the way back up."""

    def __init__(self, reason: str, *, out_of_range: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.out_of_range = out_of_range
        self.path: list[str] = []


class NumberOutOfRange(json.JSONDecodeError):
    """An integer beyond 64 bits at `path` (keys and indexes from the root)."""

    def __init__(self, message: str, path: list[str]) -> None:
        super().__init__(message, "", 0)
        self.path = path


def _walk(value: Any, depth: int) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise _Refused("a string holds a NUL character (\\u0000)")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise _Refused("an integer does not fit in 64 bits", out_of_range=True)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Refused("a number is too large")
    elif depth >= MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise _Refused("a key holds a NUL character (\\u0000)")
            try:
                _walk(item, depth + 1)
            except _Refused as refused:
                refused.path.append(key)
                raise
    else:
        for index, item in enumerate(value):
            try:
                _walk(item, depth + 1)
            except _Refused as refused:
                refused.path.append(str(index))
                raise


def parse_json(raw: bytes | str) -> Any:
    """The JSON value in `raw`; `json.JSONDecodeError` naming the reason when refused."""
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError as error:
        raise json.JSONDecodeError(str(error), "", 0) from None
    try:
        _walk(value, 0)
    except _Refused as refused:
        path = list(reversed(refused.path))
        where = ".".join(path)
        reason = f"{refused.reason} at {where}" if where else refused.reason
        if refused.out_of_range:
            raise NumberOutOfRange(reason, path) from None
        raise json.JSONDecodeError(reason, "", 0) from None
    return value


def _read_as_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this media type as JSON (as its own test)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class StrictJsonRequest(Request):
    """A request whose JSON body is read by `parse_json`."""

    async def json(self) -> Any:
        """The body as JSON, read once."""
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json

    async def check_number_ranges(self) -> None:
        """RequestValidationError (a 422) naming where an integer beyond 64 bits is.

        Anything else wrong with the body is left to FastAPI's reading of it, which
        answers 400 for JSON it cannot read.
        """
        if not _read_as_json(self.headers.get("content-type")) or not await self.body():
            return
        try:
            await self.json()
        except NumberOutOfRange as refused:
            message = f"must be an integer of at most 64 bits ({INT_MIN} to {INT_MAX})"
            error = {
                "type": "number_out_of_range",
                "loc": ("body", *refused.path),
                "msg": message,
                "input": None,
            }
            raise RequestValidationError([error]) from None
        except json.JSONDecodeError:
            return


class StrictJsonRoute(APIRoute):
    """A route that reads JSON bodies with `parse_json` (routes without a body are untouched)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a `StrictJsonRequest` on methods that carry a body."""
        handler = super().get_route_handler()
        if not (self.methods or set()) & _BODY_METHODS:
            return handler
        takes_body = self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            strict = StrictJsonRequest(request.scope, request.receive)
            if takes_body:  # outside FastAPI's reading, which makes any other error a 400
                await strict.check_number_ranges()
            return await handler(strict)

        return strict_handler
