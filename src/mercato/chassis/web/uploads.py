"""File uploads: the routes that take `multipart/form-data`, and reading one file from it.

Every other body under `/api/` is JSON of at most `max_body_bytes` (1 MiB). A route
that takes a file is named in an `UploadRoutes` (`METHOD /path`, a `*` standing for
one path segment): the request middleware then bounds its body by `max_upload_bytes`
instead, as it arrives, and leaves its media type to the route, so that a caller
without a token hears 401 before anything about its body. A service declares its
upload routes in its spec (`ServiceSpec.upload_routes`); the gateway, which forwards
them, lists them in its settings (`MERCATO_GATEWAY_UPLOAD_ROUTES`).

`read_file(request, field=..., max_bytes=...)` reads such a body as it streams in,
with python-multipart's push parser: the one part named `field` is kept (at most
`max_bytes` of it, else 413), any other part is a 422 naming it, and nothing of the
body is spooled to disk or held beyond that part. The answers, all problems:

    415  the body is not multipart/form-data (or has no boundary)
    400  the multipart body is malformed or ends before its closing boundary
    413  the file is longer than `max_bytes`
    422  no part named `field`, two of them, an empty one, or a part of another name
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from mercato.chassis.web.errors import (
    BadRequest,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMedia,
    field_error,
)

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["MULTIPART", "UploadRoutes", "UploadedFile", "read_file"]

MULTIPART = "multipart/form-data"
_NAMED_AT_MOST = 10  # other parts a 422 names


class UploadRoutes:
    """The routes whose bodies are files: `METHOD /path` entries, `*` for one segment."""

    def __init__(self, entries: Iterable[str], *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries = tuple(entries)
        self._patterns: dict[str, list[re.Pattern[str]]] = {}
        for entry in self.entries:
            method, _, path = entry.strip().partition(" ")
            if not method or not path.startswith("/"):
                raise ValueError(f"{entry!r} must be written 'METHOD /path' (* for a segment)")
            segments = (r"[^/]+" if part == "*" else re.escape(part) for part in path.split("/"))
            self._patterns.setdefault(method.upper(), []).append(re.compile("/".join(segments)))

    def match(self, method: str, path: str) -> bool:
        """Whether a `method` request to `path` is an upload."""
        return any(p.fullmatch(path) for p in self._patterns.get(method, ()))

    def __bool__(self) -> bool:
        return bool(self._patterns)


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """The file part of a multipart body: its bytes, and what the client said of them."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Part:
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None


@dataclass
class _Collector:
    """The parser's callbacks: the wanted part's bytes and what else the body held."""

    wanted: str
    max_bytes: int
    data: bytearray = field(default_factory=bytearray)
    found: _Part | None = None
    others: list[str] = field(default_factory=list)
    repeated: bool = False
    too_large: bool = False
    ended: bool = False
    _part: _Part = field(default_factory=_Part)
    _header: bytearray = field(default_factory=bytearray)
    _value: bytearray = field(default_factory=bytearray)
    _headers: dict[str, bytes] = field(default_factory=dict)
    _keeping: bool = False

    def on_part_begin(self) -> None:
        self._part, self._headers, self._keeping = _Part(), {}, False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header.decode("latin-1").lower()] = bytes(self._value)
        self._header.clear()
        self._value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name")
        filename = options.get(b"filename")
        part = self._part
        part.name = name.decode("utf-8", "replace") if name is not None else None
        part.filename = filename.decode("utf-8", "replace") if filename is not None else None
        kind = self._headers.get("content-type")
        part.content_type = kind.decode("latin-1") if kind is not None else None
        if part.name != self.wanted:
            other = part.name or "(unnamed)"
            if other not in self.others and len(self.others) < _NAMED_AT_MOST:
                self.others.append(other)  # a body of a million parts names ten
        elif self.found is not None:
            self.repeated = True
        else:
            self.found, self._keeping = part, True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._keeping:
            return  # another part: counted by the body's bound, never kept
        if len(self.data) + (end - start) > self.max_bytes:
            self.too_large, self._keeping = True, False
            return
        self.data += data[start:end]

    def on_end(self) -> None:
        self.ended = True


def _boundary(request: Request) -> bytes:
    media, options = parse_options_header(request.headers.get("content-type"))
    if media.lower() != MULTIPART.encode():
        raise UnsupportedMedia(f"Send the file as {MULTIPART}.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise UnsupportedMedia(f"The {MULTIPART} body names no boundary.")
    return boundary


async def read_file(request: Request, *, field: str, max_bytes: int) -> UploadedFile:
    """The one file of a multipart body, read as it streams in (see the module)."""
    collector = _Collector(field, max_bytes)
    parser = MultipartParser(_boundary(request), _callbacks(collector))
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if collector.too_large:
                raise PayloadTooLarge(f"The file exceeds {max_bytes} bytes.")
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"The {MULTIPART} body is malformed: {exc}.") from None
    return _file_of(collector)


def _callbacks(collector: _Collector) -> MultipartCallbacks:
    return {
        "on_part_begin": collector.on_part_begin,
        "on_header_field": collector.on_header_field,
        "on_header_value": collector.on_header_value,
        "on_header_end": collector.on_header_end,
        "on_headers_finished": collector.on_headers_finished,
        "on_part_data": collector.on_part_data,
        "on_end": collector.on_end,
    }


def _file_of(collector: _Collector) -> UploadedFile:
    wanted = collector.wanted
    if not collector.ended:
        raise BadRequest(f"The {MULTIPART} body ends before its closing boundary.")
    if collector.others:
        unknown = sorted(collector.others)
        raise Unprocessable(
            f"Send only `{wanted}`; the body also holds {', '.join(unknown)}.",
            errors=[field_error(name, "not a field of this form") for name in unknown],
        )
    if collector.found is None:
        raise Unprocessable(
            f"Send the file as `{wanted}`.", errors=[field_error(wanted, "missing")]
        )
    if collector.repeated:
        raise Unprocessable(
            f"Send one `{wanted}`.", errors=[field_error(wanted, "sent more than once")]
        )
    if not collector.data:
        raise Unprocessable(f"`{wanted}` is empty.", errors=[field_error(wanted, "empty file")])
    found = collector.found
    return UploadedFile(found.filename, found.content_type, bytes(collector.data))
