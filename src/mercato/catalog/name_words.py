"""PostgreSQL's first relevance tier for one word: the names' words in key order.

A search of one word (`laptop`, or `lap` as typed: the last word is a prefix)
without filters is most of a shop's searches. Its first tier (`catalog.ranking`) is
the products whose name or brand has the word, the newest first. The GIN index of
the names' words (migration 0009) finds them in no order and gives no key without
reading the product's row, so the page read every match's row to keep 21.
`product_name_words` (migration 0011, kept by triggers) holds a row per lexeme and
product, keyed `(word, pk)`: a word's products are read newest first from the key
alone (21 index entries), and so is a prefix that starts one word of the names
(`laptop`); a prefix of several words (`lap`) reads their range, every entry,
deduplicated (a product may have two of the words) and sorted. No table row is read
but the page's.

The word is made a lexeme by PostgreSQL itself (`to_tsvector('english', ...)`), as
the GIN path's `to_tsquery` does, so both find the same products; a word that is no
lexeme there (a stop word) finds nothing, as `to_tsquery` of it does. Only a term
that is one word of ASCII letters and digits without completions (`Term.also`)
takes this path (`single_word`): other words, phrases, alternatives, several words
and filters stay on the GIN index, which intersects them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    union_all,
)
from sqlalchemy.sql.expression import CTE, TableClause

from mercato.catalog.search import PG_CONFIG
from mercato.catalog.search_terms import Clause

__all__ = ["NAME_PREFIX", "NAME_WORD", "NAME_WORDS", "SINGLE_WORD_KEYS", "page_keys", "single_word"]

NAME_WORDS: TableClause = table("product_name_words", column("word"), column("pk"))
NAME_WORD = "name_word"  # the parameter of a whole word
NAME_PREFIX = "name_prefix"  # the parameter of a prefix
SINGLE_WORD_KEYS = frozenset((NAME_WORD, NAME_PREFIX))
# Lower-case ASCII letters and digits: one token of the parser, and a lexeme whose
# prefix range is bounded in any database encoding (`_above`).
_ONE_TOKEN = re.compile(r"[a-z0-9]+")


def single_word(clauses: Sequence[Clause]) -> dict[str, str] | None:
    """The parameter of a search of one word (`NAME_WORD` or `NAME_PREFIX`), or None."""
    if len(clauses) != 1 or clauses[0].negated or len(clauses[0].alternatives) != 1:
        return None
    term = clauses[0].alternatives[0]
    if len(term.words) != 1 or term.also or not _ONE_TOKEN.fullmatch(term.words[0]):
        return None
    return {NAME_PREFIX if term.prefix else NAME_WORD: term.words[0]}


def _stem(name: str) -> Select[Any]:
    """The lexeme PostgreSQL makes of the parameter `name` (no row for a stop word)."""
    vector = func.to_tsvector(
        literal_column(f"'{PG_CONFIG}'::regconfig"), bindparam(name, type_=String())
    )
    return select(func.unnest(func.tsvector_to_array(vector)).label("word")).limit(1)


def page_keys(name: str, *, after: bool) -> Any:
    """The keys of a page of the products whose name or brand has the word `name`.

    Newest first, `limit` of them, below `after_key` when `after`. A prefix that
    starts a single word of the names (`laptop`, when no other word starts so) is
    read as that word, `limit` entries from the end of its keys; a prefix of several
    (`lap`: "lap", "lapel", "laptop"...) reads their whole range, deduplicated and
    sorted. One statement says both, each branch guarded by a condition on the
    range's first and last words, which PostgreSQL evaluates once (a one-time
    filter): one branch runs. An empty range runs neither. The stem, its range and
    the range's ends are each computed once (`MATERIALIZED`), and read by scalar
    subqueries: a value the index scans take as a bound, in key order.
    """
    word: ColumnElement[str] = NAME_WORDS.c.word
    pk: ColumnElement[int] = NAME_WORDS.c.pk
    below = [pk < bindparam("after_key")] if after else []
    if name == NAME_WORD:
        return _newest(select(pk).where(word == _stem(name).scalar_subquery(), *below))
    stem = _stem(name).subquery("stem")
    bounds = _materialized(
        select(stem.c.word.label("low"), _above(stem.c.word).label("high")), "bounds"
    )
    in_range = [word >= _value(bounds.c.low), word < _value(bounds.c.high)]
    ends = _materialized(
        select(func.min(word).label("first"), func.max(word).label("last")).where(*in_range),
        "ends",
    )
    first, last = _value(ends.c.first), _value(ends.c.last)
    one = select(pk).where(word == first, first == last, *below)
    # A product may have several of the words (`charg`: "charger", "charging").
    several = select(pk).where(*in_range, first != last, *below).distinct()
    return union_all(_newest(one), _newest(several))


def _materialized(statement: Select[Any, Any], name: str) -> CTE:
    return statement.cte(name).prefix_with("MATERIALIZED")


def _value(column: ColumnElement[Any]) -> Any:
    """`column` of its one-row CTE, as a scalar subquery (a parameter of the plan)."""
    return select(column).scalar_subquery()


def _above(stem: Any) -> Any:
    """The first string after every word that starts with `stem`: its last letter's next.

    Words sort by bytes (`COLLATE "C"`), so the words that start with `ab` are those
    from `ab` up to `ac`. The stem of an ASCII word is ASCII, and so is that bound in
    every encoding: a bound made of the last code point (`chr(1114111)`) is an error
    in a `SQL_ASCII` database, which `initdb` makes where no locale is set.
    """
    return func.left(stem, -1).concat(func.chr(func.ascii(func.right(stem, 1)) + 1))


def _newest(keys: Select[Any]) -> Select[Any]:
    return keys.order_by(NAME_WORDS.c.pk.desc()).limit(bindparam("limit"))
