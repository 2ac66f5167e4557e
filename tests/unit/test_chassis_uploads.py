"""Unit tests of file uploads: which routes are uploads, and reading one file of a form.

`read_file` is given a real Starlette request whose body arrives in the chunks a test
chooses, as a server would hand it over.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from starlette.requests import Request
from starlette.types import Message

from mercato.chassis.web.errors import ProblemError
from mercato.chassis.web.uploads import UploadedFile, UploadRoutes, read_file

BOUNDARY = "x-boundary-7d3"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def part(name: str, data: bytes, filename: str | None = "a.png", kind: str = "image/png") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\nContent-Type: {kind}\r\n\r\n"
    return head.encode() + data + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def request(body: bytes, *, chunk: int = 7, content_type: str | None = None) -> Request:
    """A POST whose body arrives `chunk` bytes at a time."""
    kind = content_type if content_type is not None else f"multipart/form-data; boundary={BOUNDARY}"
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages: Iterable[Message] = iter(
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    )

    async def receive() -> Message:
        return next(iter(messages))

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": [(b"content-type", kind.encode())] if kind else [],
    }
    return Request(scope, receive)


async def refused(body: bytes, status: int, *, content_type: str | None = None) -> ProblemError:
    """The problem `read_file` raises for `body`, checking its status."""
    with pytest.raises(ProblemError) as caught:
        await read_file(request(body, content_type=content_type), field="file", max_bytes=2048)
    assert caught.value.status == status, caught.value.detail
    return caught.value


def named(error: ProblemError) -> list[str]:
    return [e["field"] for e in error.errors or []]


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
async def test_the_file_is_read_whole_however_the_body_arrives(chunk: int) -> None:
    body = form(part("file", PNG))
    got = await read_file(request(body, chunk=chunk), field="file", max_bytes=2048)
    assert got == UploadedFile("a.png", "image/png", PNG)


async def test_a_file_of_exactly_the_bound_is_taken_one_byte_more_is_413() -> None:
    exact = await read_file(request(form(part("file", b"a" * 2048))), field="file", max_bytes=2048)
    assert len(exact.data) == 2048
    error = await refused(form(part("file", b"a" * 2049)), 413)
    assert "2048 bytes" in error.detail


async def test_the_reading_stops_at_the_bound() -> None:
    """Nothing past the bound is read: the rest of a long body is never asked for."""
    body = form(part("file", b"a" * 100_000))
    read: list[int] = []
    chunks = [body[i : i + 512] for i in range(0, len(body), 512)]

    async def receive() -> Message:
        read.append(len(read))
        return {"type": "http.request", "body": chunks[len(read) - 1], "more_body": True}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    with pytest.raises(ProblemError) as caught:
        await read_file(Request(scope, receive), field="file", max_bytes=2048)
    assert caught.value.status == 413
    assert len(read) <= 2048 // 512 + 2  # the part's head, then the bound


async def test_a_body_that_is_not_multipart_is_415() -> None:
    await refused(b'{"file": "x"}', 415, content_type="application/json")
    await refused(b"", 415, content_type="")
    no_boundary = await refused(form(part("file", PNG)), 415, content_type="multipart/form-data")
    assert "boundary" in no_boundary.detail


async def test_a_missing_repeated_or_empty_file_is_422_naming_it() -> None:
    assert named(await refused(form(), 422)) == ["file"]
    assert named(await refused(form(part("file", PNG), part("file", PNG)), 422)) == ["file"]
    assert named(await refused(form(part("file", b"")), 422)) == ["file"]


async def test_other_fields_are_422_naming_them() -> None:
    error = await refused(form(part("file", PNG), part("caption", b"hi", filename=None)), 422)
    assert named(error) == ["caption"]


async def test_a_file_sent_as_a_plain_field_is_still_the_file() -> None:
    got = await read_file(
        request(form(part("file", PNG, filename=None, kind="application/octet-stream"))),
        field="file",
        max_bytes=2048,
    )
    assert got.filename is None and got.data == PNG


async def test_a_malformed_or_cut_body_is_400() -> None:
    await refused(b"--not-the-boundary\r\n\r\nxx", 400)
    whole = form(part("file", PNG))
    cut = await refused(whole[: len(whole) // 2], 400)
    assert "closing boundary" in cut.detail


def test_upload_routes_match_their_method_and_path_with_segments() -> None:
    routes = UploadRoutes(["POST /api/catalog/products/*/images"], max_bytes=10)
    assert routes.match("POST", "/api/catalog/products/p-1/images")
    assert not routes.match("PUT", "/api/catalog/products/p-1/images")
    assert not routes.match("POST", "/api/catalog/products/p-1/images/extra")
    assert not routes.match("POST", "/api/catalog/products/a/b/images")
    assert not routes.match("POST", "/api/catalog/products//images")
    assert not UploadRoutes([], max_bytes=10)
    with pytest.raises(ValueError, match="METHOD /path"):
        UploadRoutes(["/no/method"], max_bytes=10)


async def test_a_body_of_many_parts_is_named_in_ten() -> None:
    parts = [part(f"field{n}", b"x", filename=None) for n in range(500)]
    error = await refused(form(part("file", PNG[:100]), *parts), 422)
    assert len(named(error)) == 10
