"""Unit tests of the products file read one item at a time (`catalog.streaming`)."""

from __future__ import annotations

import io

import pytest

from mercato.catalog import streaming
from mercato.catalog.streaming import FileFormatError, read_items


def items(data: bytes) -> list[tuple[int, int, object]]:
    return [(i.index, i.line, i.value) for i in read_items(io.BytesIO(data))]


@pytest.fixture(params=[7, 1 << 20], ids=["small chunks", "one chunk"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    # Chunks of 7 bytes cut every item, string and number somewhere.
    monkeypatch.setattr(streaming, "CHUNK_BYTES", request.param)
    return int(request.param)


def test_a_document_gives_its_products_with_their_lines(chunk: int) -> None:
    data = (
        b'\xef\xbb\xbf{"total": 3, "products": [\n {"a": 1, "b": "x\\u00e9y"},\n'
        b' {"c": [1, 2.5, 3]}, {"n": 12345678}\n], "skip": {"x": [1]}}\n'
    )
    assert items(data) == [
        (0, 2, {"a": 1, "b": "x\u00e9y"}),
        (1, 3, {"c": [1, 2.5, 3]}),
        (2, 3, {"n": 12345678}),
    ]


def test_a_bare_list_and_an_empty_one(chunk: int) -> None:
    assert items(b'[{"a": 1},\n\n {"b": 2}]') == [(0, 1, {"a": 1}), (1, 3, {"b": 2})]
    assert items(b"[ ]") == []


@pytest.mark.parametrize(
    ("data", "field", "line", "message"),
    [
        (b"", "body", 1, "expected"),
        (b"{", "body", 1, "Expecting"),
        (b'{"items": []}', "products", None, "products"),
        (b'{"products": {"a": 1}}', "products", None, "products"),
        (b'[{"a": 1},\n {"a": tru}]', "body", 2, "Expecting value"),
        (b'[{"a": 1},\n\n {"a": "\\u0000"}]', "body", 3, "NUL character"),
        (b"[{}] x", "body", 1, "more after"),
        (b'[{"a": NaN}]', "body", 1, "NaN"),
        (b'[{"a": 1e999}]', "body", 1, "too large"),
        (b"[" + b"[" * 40 + b"]" * 40 + b"]", "body", 1, "nested deeper"),
        (b"[1,]", "body", 1, "Expecting value"),
        (b'[{"a": "\xff"}]', "body", 1, "UTF-8"),
    ],
)
def test_a_file_not_in_the_format_names_the_line(
    chunk: int, data: bytes, field: str, line: int | None, message: str
) -> None:
    with pytest.raises(FileFormatError) as caught:
        items(data)
    assert (caught.value.field, caught.value.line) == (field, line)
    assert message in caught.value.message


def test_an_endless_item_is_refused_without_reading_the_whole_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 1000)
    monkeypatch.setattr(streaming, "MAX_ITEM_CHARS", 10_000)
    data = b'[{"a": "' + b"x" * 1_000_000 + b'"}]'
    stream = io.BytesIO(data)
    with pytest.raises(FileFormatError, match="larger than"):
        list(read_items(stream))
    assert stream.tell() < 20_000
