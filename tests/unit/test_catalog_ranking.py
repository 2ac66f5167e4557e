"""Unit tests of relevance's tiers (`catalog.ranking`): each backend's expressions.

What the databases do with them is checked by the service tests (SQLite) and the
integration tests (PostgreSQL, MariaDB) of the catalog's listing.
"""

from __future__ import annotations

import sqlite3

import pytest

from mercato.catalog.name_words import single_word
from mercato.catalog.ranking import NAMED, OTHERS, tier_parameters
from mercato.catalog.search import parse


def test_sqlite_tiers_are_the_name_and_brand_then_the_rest() -> None:
    tiers = tier_parameters("sqlite", parse("gaming laptop -refurbished"))
    assert tiers is not None
    assert tiers[NAMED] == {"search": '({title brand}: ("gaming" AND "laptop")) NOT "refurbished"'}
    assert tiers[OTHERS] == {
        "search": '(("gaming" AND "laptop") NOT "refurbished") '
        'NOT {title brand}: ("gaming" AND "laptop")'
    }


def test_sqlite_first_tier_reads_the_names_table_when_nothing_is_excluded() -> None:
    tiers = tier_parameters("sqlite", parse("gaming lap"))
    assert tiers is not None
    # `products_named_fts` holds the name and the brand alone: no column filter.
    assert tiers[NAMED] == {"named": '"gaming" AND "lap"*'}
    assert tiers[OTHERS] == {
        "search": '("gaming" AND "lap"*) NOT {title brand}: ("gaming" AND "lap"*)'
    }


def test_postgresql_tiers_read_the_name_then_the_rest() -> None:
    tiers = tier_parameters("postgresql", parse("laptop -gaming"))
    assert tiers is not None
    # The wanted words against the name-and-brand index; an excluded word excludes
    # wherever it is, in both tiers.
    assert tiers[NAMED] == {"named": "'laptop'", "search": "'laptop' & !'gaming'"}
    assert tiers[OTHERS] == {"named": "'laptop'", "search": "'laptop' & !'gaming'"}
    both = tier_parameters("postgresql", parse("gaming lap"))
    assert both is not None
    assert both[NAMED] == {"named": "'gaming' & 'lap':*"}  # nothing excluded: the index alone
    assert both[OTHERS] == {"named": "'gaming' & 'lap':*", "search": "'gaming' & 'lap':*"}
    prefix = tier_parameters("postgresql", parse("lap"))
    assert prefix is not None
    # One word: the names' words table too, which `read_tier` reads when nothing filters.
    assert prefix[NAMED] == {"named": "'lap':*", "name_prefix": "lap"}
    assert prefix[OTHERS] == {"named": "'lap':*", "search": "'lap':*"}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("laptop", {"name_prefix": "laptop"}),
        ("Laptops", {"name_prefix": "laptops"}),
        ('"laptop"', {"name_word": "laptop"}),
        ("4k", {"name_prefix": "4k"}),
        ("café", None),  # not ASCII: the bound of its range is not in every encoding
        ("lap*", {"name_prefix": "lap"}),
        ("gaming laptop", None),  # several words: the index intersects them
        ("laptop or tablet", None),
        ('"gaming laptop"', None),
        ("laptop -gaming", None),
        ("usb_c", None),  # two tokens for PostgreSQL's parser
        ("l", {"name_word": "l"}),  # too short to be a prefix: a whole word
    ],
)
def test_one_word_has_the_names_words_parameter(q: str, expected: dict[str, str] | None) -> None:
    assert single_word(parse(q)) == expected


def test_mysql_tiers_carry_the_wanted_words_apart() -> None:
    tiers = tier_parameters("mysql", parse("laptop -gaming"))
    assert tiers is not None
    assert (
        tiers[NAMED]
        == tiers[OTHERS]
        == {"search": "+(laptop laptops) -(gaming gamings)", "named": "+(laptop laptops)"}
    )


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
@pytest.mark.parametrize("q", ["", "-laptop", "the"])
def test_no_search_has_no_tiers(dialect: str, q: str) -> None:
    assert tier_parameters(dialect, parse(q)) is None


@pytest.mark.parametrize(
    "q", ["laptop", "gaming lap", '"usb c" -cable', "laptop or tablet case", "x'); DROP --"]
)
def test_sqlite_tier_expressions_are_valid_fts5(q: str) -> None:
    tiers = tier_parameters("sqlite", parse(q))
    assert tiers is not None
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(title, brand, description)")
    connection.execute("CREATE VIRTUAL TABLE named USING fts5(title, brand)")
    connection.execute("INSERT INTO t VALUES ('Gaming Laptop', 'Acme', 'a usb c cable')")
    connection.execute("INSERT INTO named VALUES ('Gaming Laptop', 'Acme')")
    for tier in tiers:
        table = "named" if "named" in tier else "t"
        expression = tier.get("named", tier.get("search"))
        connection.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ?", [expression])
