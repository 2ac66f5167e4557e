"""Unit tests of the catalog's search query translation (web syntax to FTS5)."""

from __future__ import annotations

import sqlite3

import pytest

from mercato.catalog.search import Clause, fts5_query, has_terms, parse


def test_words_are_all_required_and_quoted() -> None:
    assert fts5_query("gaming laptop") == '"gaming" AND "laptop"'


def test_words_are_lowercased_and_split_on_punctuation() -> None:
    assert fts5_query("USB-C Charger") == '"usb c" AND "charger"'


def test_quoted_phrases_stay_phrases_with_their_stop_words() -> None:
    assert fts5_query('"chef for kids" knife') == '"chef for kids" AND "knife"'


def test_or_joins_neighbouring_terms() -> None:
    assert fts5_query("laptop or tablet case") == '("laptop" OR "tablet") AND "case"'
    assert parse("a1 OR b2")[0] == Clause((("a1",), ("b2",)))


def test_minus_excludes_a_term() -> None:
    assert fts5_query("charger -usb") == '("charger") NOT "usb"'
    assert fts5_query('shirt -"slim fit"') == '("shirt") NOT "slim fit"'


def test_stop_words_are_dropped_like_postgresql_does() -> None:
    assert fts5_query("a laptop for the office") == '"laptop" AND "office"'


@pytest.mark.parametrize("q", ["", "   ", "!!!", "*", "-usb", "the", '""', "or"])
def test_queries_without_a_positive_word_are_no_search(q: str) -> None:
    assert fts5_query(q) is None
    assert not has_terms(q)


@pytest.mark.parametrize(
    "q",
    ['"unbalanced', "NEAR(a b)", "laptop AND", "laptop*", "col:value", "^start", "a + b", "(x"],
)
def test_fts5_syntax_in_input_cannot_break_the_query(q: str) -> None:
    expression = fts5_query(q)
    assert expression is not None
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    db.execute("INSERT INTO t VALUES ('a laptop for col value start x')")
    db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()
    db.close()


def test_unicode_words_are_kept() -> None:
    assert fts5_query("Café crème") == '"café" AND "crème"'


def test_the_number_of_clauses_is_bounded() -> None:
    assert len(parse(" ".join(f"w{i}" for i in range(100)))) == 16
