"""Unit tests of the catalog's search query translation (web syntax to FTS5 and tsquery).

The last bare word of a query is a prefix (`"laptop"*`) since as-you-type search; the
expected expressions show it.
"""

from __future__ import annotations

import sqlite3

import pytest

from mercato.catalog.search import (
    Clause,
    Term,
    fts5_expression,
    fts5_query,
    has_terms,
    parse,
    replace_term,
    tsquery_expression,
)


def test_words_are_all_required_and_quoted() -> None:
    assert fts5_query("gaming laptop") == '"gaming" AND "laptop"*'


def test_words_are_lowercased_and_split_on_punctuation() -> None:
    assert fts5_query("USB-C Charger") == '"usb c" AND "charger"*'


def test_quoted_phrases_stay_phrases_with_their_stop_words() -> None:
    assert fts5_query('"chef for kids" knife') == '"chef for kids" AND "knife"*'


def test_or_joins_neighbouring_terms() -> None:
    assert fts5_query("laptop or tablet case") == '("laptop" OR "tablet") AND "case"*'
    assert parse("a1 OR b2")[0] == Clause((Term(("a1",)), Term(("b2",), prefix=True)))


def test_minus_excludes_a_term() -> None:
    assert fts5_query("charger -usb") == '("charger") NOT "usb"'
    assert fts5_query('shirt -"slim fit"') == '("shirt") NOT "slim fit"'


def test_stop_words_are_dropped_like_postgresql_does() -> None:
    assert fts5_query("a laptop for the office") == '"laptop" AND "office"*'


@pytest.mark.parametrize("q", ["", "   ", "!!!", "*", "-usb", "the", '""', "or"])
def test_queries_without_a_positive_word_are_no_search(q: str) -> None:
    assert fts5_query(q) is None
    assert tsquery_expression(parse(q)) is None
    assert not has_terms(q)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lap", '"lap"*'),
        ("lap  ", '"lap"*'),
        ("gaming lap", '"gaming" AND "lap"*'),
        ("lap* charger", '"lap"* AND "charger"*'),
        ("laptop -gam", '("laptop") NOT "gam"'),
        ("laptop -gam*", '("laptop") NOT "gam"*'),
        ('"gaming lap"', '"gaming lap"'),
        ("usb-c", '"usb c"'),
        ("usb-ca", '"usb ca"*'),
        ("x", '"x"'),
        ("laptop or", '"laptop"'),
    ],
)
def test_the_last_bare_word_and_starred_words_are_prefixes(q: str, expected: str) -> None:
    assert fts5_query(q) == expected


def test_a_prefix_that_found_nothing_also_matches_whole_words() -> None:
    term = parse("computi")[0].alternatives[0]
    completed = replace_term(parse("computi"), term, Term(("computi",), prefix=True, also=("a",)))
    assert fts5_expression(completed) == '("computi"* OR "a")'
    assert tsquery_expression(completed) == "('computi':* | 'a')"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("gaming laptop", "'gaming' & 'laptop':*"),
        ("USB-C", "('usb' <-> 'c')"),
        ("laptop or tablet case", "('laptop' | 'tablet') & 'case':*"),
        ('shirt -"slim fit"', "'shirt' & !('slim' <-> 'fit')"),
        ("it's", "('it' <-> 's')"),
    ],
)
def test_postgresql_gets_quoted_lexemes(q: str, expected: str) -> None:
    assert tsquery_expression(parse(q)) == expected


@pytest.mark.parametrize(
    "q",
    [
        '"unbalanced',
        "NEAR(a b)",
        "laptop AND",
        "laptop*",
        "col:value",
        "^start",
        "a + b",
        "(x",
        "x'); DROP TABLE products; --",
        "a:* & !b | <-> c",
        "lap**",
    ],
)
def test_fts5_syntax_in_input_cannot_break_the_query(q: str) -> None:
    expression = fts5_query(q)
    assert expression is not None
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body, prefix='2 3')")
    db.execute("INSERT INTO t VALUES ('a laptop for col value start x')")
    db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()
    db.close()


def test_tsquery_lexemes_hold_no_quote_or_operator() -> None:
    expression = tsquery_expression(parse("x'); DROP TABLE p; -- a:* & !b | c <-> d"))
    assert expression is not None
    lexemes = expression.replace("'", " ").split()
    assert "'" not in "".join(lexemes)
    assert expression.count("'") % 2 == 0
    assert all(part.isalnum() or part in "&|!()<->:*" for part in lexemes)


def test_unicode_words_are_kept() -> None:
    assert fts5_query("Café crème") == '"café" AND "crème"*'


def test_the_number_of_clauses_is_bounded() -> None:
    assert len(parse(" ".join(f"w{i}" for i in range(100)))) == 16
