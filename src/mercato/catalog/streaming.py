"""A products file read one item at a time: memory bounded by an item, not by the file.

`read_items(path)` yields each item of a dummyjson document (`{"products": [...]}`,
other keys skipped) or of a bare JSON list, with its index and the line it starts
on, without holding the file: a small incremental reader finds the document's
structure and each item's end with the standard library's C scanner
(`json.JSONDecoder.raw_decode`), reading more of the file while an item is cut off,
and an item is refused where an API body would be (the chassis's `parse_json`: a NUL
character, an integer beyond 64 bits, a number too large, NaN, deep nesting). The
scanner refuses the numbers itself and its value is kept; `parse_json` reads again
only an item whose text could hold a NUL or nest too deep: walking every item's
values in Python to look for them cost as much as validating it. A file that is
not in the format raises `FileFormatError` naming the line; a single item larger
than `MAX_ITEM_CHARS` too (rather than reading the rest of the file looking for
its end).
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from mercato.chassis.web.json_body import MAX_DEPTH, parse_json

__all__ = ["MAX_ITEM_CHARS", "FileFormatError", "Item", "read_items"]

CHUNK_BYTES = 1 << 20
MAX_ITEM_CHARS = 8 << 20
_SPACE = " \t\n\r"
_NUL = "\\u0000"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("a number is too large")
    return number


_SCAN = json.JSONDecoder(strict=True, parse_constant=_no_constant, parse_float=_finite)


class FileFormatError(ValueError):
    """The file is not a products document; `field` and `line` say where."""

    def __init__(self, message: str, *, field: str = "body", line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line


@dataclass(frozen=True, slots=True)
class Item:
    """One item of the file: its position in the list, its first line, its value."""

    index: int
    line: int
    value: Any


class _Reader:
    """The file's text as a sliding buffer, with the line number of its start."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.text = ""
        self.at = 0  # position in `text`
        self.line = 1  # line of `text[at]`
        self.eof = False

    def more(self) -> bool:
        """Read another chunk (dropping what was consumed); False at the end."""
        if self.eof:
            return False
        chunk = self._stream.read(CHUNK_BYTES)
        self.eof = not chunk
        try:
            decoded = self._decoder.decode(chunk, final=self.eof)
        except UnicodeDecodeError:
            raise FileFormatError("the file is not UTF-8 text", line=self.line) from None
        self.text = self.text[self.at :] + decoded
        self.at = 0
        return bool(decoded) or not self.eof

    def skip_space(self) -> None:
        while True:
            end = len(self.text)
            at = self.at
            while at < end and self.text[at] in _SPACE:
                at += 1
            self.line += self.text.count("\n", self.at, at)
            self.at = at
            if at < end or not self.more():
                return

    def peek(self) -> str:
        """The next character that is not white space, '' at the end of the file."""
        self.skip_space()
        return self.text[self.at] if self.at < len(self.text) else ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end of the file"
            raise FileFormatError(f"expected {what}, found {found}", line=self.line)
        self.at += 1

    def value(self) -> tuple[str, Any, int]:
        """The text of the next JSON value, the value, and the line it starts on."""
        self.skip_space()
        line = self.line
        while True:
            try:
                value, end = _SCAN.raw_decode(self.text, self.at)
            except ValueError as exc:
                if not isinstance(exc, json.JSONDecodeError):
                    raise FileFormatError(str(exc), line=line) from None
                # Cut off by the chunk's end, or invalid: only more text tells.
                if len(self.text) - self.at > MAX_ITEM_CHARS:
                    raise FileFormatError(
                        f"an item is larger than {MAX_ITEM_CHARS:,} characters, or invalid",
                        line=line,
                    ) from None
                if self.more():
                    continue
                where = line + self.text.count("\n", self.at, exc.pos)
                raise FileFormatError(exc.msg, line=where) from None
            if end == len(self.text) and not self.eof and self.more():
                continue  # a number may go on in the next chunk
            raw = self.text[self.at : end]
            self.line += raw.count("\n")
            self.at = end
            return raw, value, line


def _items(reader: _Reader) -> Iterator[Item]:
    """The items of the list that starts at the reader's position."""
    reader.expect("[", "a list of products")
    index = 0
    if reader.peek() == "]":
        reader.at += 1
        return
    while True:
        raw, value, line = reader.value()
        if _NUL in raw or raw.count("{") + raw.count("[") >= MAX_DEPTH:
            try:
                value = parse_json(raw)
            except json.JSONDecodeError as exc:
                raise FileFormatError(exc.msg, line=line) from None
        yield Item(index, line, value)
        index += 1
        if reader.peek() == ",":
            reader.at += 1
            continue
        reader.expect("]", "',' or ']' after a product")
        return


def _document(reader: _Reader) -> Iterator[Item]:
    """The items of `{"products": [...]}`, the document's other keys read and skipped."""
    reader.expect("{", '{"products": [...]} or [...]')
    found = False
    while reader.peek() != "}":
        _, key, line = reader.value()
        if not isinstance(key, str):
            raise FileFormatError("expected a key", line=line)
        reader.expect(":", "':' after a key")
        if key == "products" and not found:
            found = True
            if reader.peek() != "[":
                raise FileFormatError('expected {"products": [...]}', field="products")
            yield from _items(reader)
        else:
            reader.value()  # another key's value, skipped
        if reader.peek() == ",":
            reader.at += 1
    reader.at += 1
    if not found:
        raise FileFormatError('expected {"products": [...]}', field="products")


def read_items(stream: BinaryIO) -> Iterator[Item]:
    """Each item of the products file open in `stream` (FileFormatError: not one)."""
    reader = _Reader(stream)
    first = reader.peek()
    yield from _items(reader) if first == "[" else _document(reader)
    if reader.peek():
        raise FileFormatError("more after the end of the document", line=reader.line)
