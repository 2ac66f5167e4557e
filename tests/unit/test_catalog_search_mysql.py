"""The InnoDB boolean-mode text of a query (`catalog.search_innodb.boolean_expression`).

What MariaDB does with it is checked by the shared search checks on a real server
(`tests/integration/test_catalog_search_postgres.py`, its `mariadb` runs); these pin
the text itself: every word a plain `\\w+` token, required (`+`) or excluded (`-`),
words InnoDB does not index left out, and a bare word with its singular or plural.
"""

from __future__ import annotations

import pytest

from mercato.catalog.search import expression, parse
from mercato.catalog.search_innodb import boolean_expression, plural_forms


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("laptop", "+laptop*"),
        ("Laptops", "+(laptops* laptop)"),
        ("laptop gaming", "+(laptop laptops) +gaming*"),
        ("laptop -gam*", "+(laptop laptops) -gam*"),
        ("lap* gaming", "+lap* +gaming*"),
        ('"lap"', "+lap"),
        ('"wireless headphones"', '+"wireless headphones"'),
        ("kettle or teapot", "+((kettle kettles) teapot*)"),
        ("title:laptop", "+(+title +laptop*)"),
        ("tv stand", "+stand*"),  # `tv` is shorter than InnoDB's indexed words
    ],
)
def test_a_query_becomes_required_and_excluded_words(typed: str, expected: str) -> None:
    assert boolean_expression(parse(typed)) == expected
    assert expression("mysql", parse(typed)) == expected


def test_no_operator_of_the_language_survives_in_a_word() -> None:
    hostile = '+a -b ~c <d >e (f) "g" @h*  \') OR 1=1 --'
    text = boolean_expression(parse(hostile)) or ""
    for operator in "~<>@'=":
        assert operator not in text


def test_a_query_of_only_unindexed_words_matches_nothing() -> None:
    assert boolean_expression(parse('"tv" on')) == '+"0"'  # `0` is no indexed word
    assert boolean_expression(parse("laptop -tv")) == "+(laptop laptops)"  # nothing to exclude
    assert boolean_expression(parse("-laptop")) is None  # no positive word: no search


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("laptop", ["laptop", "laptops"]),
        ("batteries", ["batteries", "battery"]),
        ("boxes", ["boxes", "box"]),
        ("glass", ["glass", "glasses"]),
        ("day", ["day", "days"]),
        ("usb3", ["usb3"]),
    ],
)
def test_a_bare_word_brings_its_singular_or_plural(word: str, forms: list[str]) -> None:
    assert plural_forms(word) == forms
