"""The search vocabulary: the products' words, counted, to complete prefixes and fix typos.

Its words are those of the products' titles, brands, categories and tags (what
shoppers type; a description's words are found by a search but never suggested),
lower-cased, split at anything that is not a letter or digit, of 2 to `WORD_MAX`
characters, English stop words left out. `search_words` holds each with the number
of products that have it. The service layer keeps it in the transaction of every
product write (`count_words` with `word_changes`): a create counts a product's
words, a delete uncounts them, an update or an import counts the difference, and a
word whose count falls to 0 is deleted. On PostgreSQL every change of a write is one
statement over the words in sorted order, so two writers lock their common words in
the same order and never deadlock.

Reads (direct reads, run only when a search found nothing; see `catalog.listing`):

- `completions(reader, prefix)`: the most frequent words that start with `prefix`;
- `correction(reader, word, prefix=...)`: the most frequent word within one edit of
  `word` (one letter deleted, inserted or replaced, or two neighbours swapped),
  preferring words that keep its first letter (typos there are rare); for a prefix,
  also the words that start with a string within one edit of it (`labto` finds
  `laptop`). The candidates are `edits(word)`, a few hundred strings looked up on
  the vocabulary's primary key: the same exact rule on SQLite and PostgreSQL
  (docs/decisions.md says why not trigram similarity).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from string import ascii_lowercase, digits
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    String,
    Table,
    bindparam,
    column,
    delete,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.models import WORD_MAX, Product, ProductFields, SearchWord, WordRow
from mercato.catalog.search import (
    STOP_WORDS,
    Clause,
    Term,
    expression,
    positive_terms,
    replace_term,
)
from mercato.catalog.store import matches_anything
from mercato.chassis.data.driver_reads import DirectQuery, DirectReader

__all__ = [
    "COMPLETIONS",
    "TYPO_MIN_LETTERS",
    "Resolved",
    "completions",
    "correction",
    "count_words",
    "edits",
    "product_words",
    "resolve",
    "word_changes",
    "words_of",
]

COMPLETIONS = 8  # whole words a prefix that found nothing stands for, at most
TYPO_MIN_LETTERS = 5  # shorter words are too often another word when one letter changes
MAX_HELPED = 3  # terms of one query completed or corrected, at most (each costs a lookup)
_WORDS = cast(Table, SearchWord.__table__)
_SPLIT = re.compile(r"[^\W_]+")
_ALPHABET = ascii_lowercase + digits
_TOP = "\U0010ffff"  # above every character: `word < prefix + _TOP` bounds a prefix's range


def words_of(
    title: str, brand: str | None, category: str | None, tags: Iterable[str]
) -> frozenset[str]:
    """The vocabulary's words of a product's text."""
    text = " ".join([title, brand or "", (category or "").replace("-", " "), *tags]).lower()
    return frozenset(
        w for w in _SPLIT.findall(text) if 2 <= len(w) <= WORD_MAX and w not in STOP_WORDS
    )


def product_words(product: Product | ProductFields) -> frozenset[str]:
    """The vocabulary's words of a product: an entity or its fields."""
    if isinstance(product, Product):
        return words_of(product.title, product.brand, product.category, product.tags)
    return words_of(product["title"], product["brand"], product["category"], product["tags"])


def word_changes(before: frozenset[str], after: frozenset[str]) -> Counter[str]:
    """What a product going from words `before` to `after` changes in the counts."""
    change: Counter[str] = Counter()
    for word in after - before:
        change[word] += 1
    for word in before - after:
        change[word] -= 1
    return change


def _upsert(dialect: str) -> Any:
    if dialect == "mysql":
        upsert = mysql.insert(_WORDS)
        return upsert.on_duplicate_key_update(products=_WORDS.c.products + upsert.inserted.products)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_WORDS)
    return statement.on_conflict_do_update(
        index_elements=[_WORDS.c.word],
        set_={"products": _WORDS.c.products + statement.excluded.products},
    )


_UPSERT = {dialect: _upsert(dialect) for dialect in ("sqlite", "postgresql", "mysql")}
_PRUNE = delete(_WORDS).where(_WORDS.c.word == bindparam("w_word"), _WORDS.c.products <= 0)


async def count_words(session: AsyncSession, change: Mapping[str, int]) -> None:
    """Add `change` (a count per word, negative to take off) to the vocabulary's counts."""
    rows: list[dict[str, Any]] = [
        {"word": w, "products": n} for w, n in sorted(change.items()) if n != 0
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    await session.execute(_UPSERT[dialect], rows)
    emptied = [{"w_word": row["word"]} for row in rows if row["products"] < 0]
    if emptied:
        await session.execute(_PRUNE, emptied)


def edits(word: str) -> list[str]:
    """Every string one edit away from `word`: a deletion, insertion, swap or replacement."""
    letters = sorted(set(_ALPHABET) | set(word))
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    found = {left + right[1:] for left, right in splits if right}
    found |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    found |= {left + c + right[1:] for left, right in splits if right for c in letters}
    found |= {left + c + right for left, right in splits for c in letters}
    found.discard(word)
    return sorted(found)


# MySQL's table of a JSON array's strings (MariaDB 10.6+), compared as the words are.
_MYSQL_CANDIDATES = (
    text(
        "SELECT value FROM JSON_TABLE(:candidates, '$[*]' COLUMNS "
        "(value VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS jt"
    )
    .bindparams(bindparam("candidates", type_=JSON()))
    .columns(column("value", String()))
)


def _candidates(dialect: str) -> Any:
    """The strings of the `candidates` parameter as a table of one column, `value`."""
    if dialect == "mysql":
        return _MYSQL_CANDIDATES.subquery("candidate")
    if dialect == "postgresql":
        strings = bindparam("candidates", type_=ARRAY(String()))
        return func.unnest(strings).table_valued("value").render_derived(name="candidate")
    return func.json_each(bindparam("candidates", type_=JSON())).table_valued("value")


def _best(dialect: str, *, prefix: bool) -> DirectQuery[WordRow]:
    """The most frequent word that is a candidate (or, for a prefix, starts with one)."""
    candidate = _candidates(dialect)
    value = candidate.c.value
    matches: ColumnElement[bool]
    if prefix:
        matches = (_WORDS.c.word >= value) & (_WORDS.c.word < value.concat(literal(_TOP)))
    else:
        matches = _WORDS.c.word == value
    first_kept = func.substr(_WORDS.c.word, 1, 1) == bindparam("first", type_=String())
    statement = (
        select(_WORDS.c.word, _WORDS.c.products)
        .select_from(candidate.join(_WORDS, matches))
        .order_by(first_kept.desc(), _WORDS.c.products.desc(), _WORDS.c.word)
        .limit(1)
    )
    return DirectQuery(statement, WordRow)


_BEST = {
    (dialect, prefix): _best(dialect, prefix=prefix)
    for dialect in ("sqlite", "postgresql", "mysql")
    for prefix in (False, True)
}
_COMPLETIONS = DirectQuery(
    select(_WORDS.c.word, _WORDS.c.products)
    .where(_WORDS.c.word >= bindparam("low"), _WORDS.c.word < bindparam("high"))
    .order_by(_WORDS.c.products.desc(), _WORDS.c.word)
    .limit(bindparam("limit", type_=Integer())),
    WordRow,
)


async def completions(reader: DirectReader, prefix: str) -> list[str]:
    """The `COMPLETIONS` most frequent words that start with `prefix`, longer than it."""
    rows = await reader.all(_COMPLETIONS, low=prefix, high=prefix + _TOP, limit=COMPLETIONS + 1)
    return [row["word"] for row in rows if row["word"] != prefix][:COMPLETIONS]


async def correction(reader: DirectReader, word: str, *, prefix: bool) -> str | None:
    """The vocabulary's word for a typo `word` (see the module's docstring), or None."""
    query = _BEST[reader.dialect.name, prefix]
    row = await reader.one(query, candidates=edits(word), first=word[:1])
    return row["word"] if row is not None else None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A query's clauses after the vocabulary's help, and each typo with its correction."""

    clauses: list[Clause]
    corrections: dict[str, str] = field(default_factory=dict)


async def _help(reader: DirectReader, term: Term) -> Term | None:
    """What `term`, which matches nothing, becomes: completed, corrected, or None."""
    if term.exact or len(term.words) != 1:
        return None
    word = term.words[0]
    if term.prefix:
        also = await completions(reader, word)
        if also:
            return replace(term, also=tuple(also))
    if sum(c.isalpha() for c in word) < TYPO_MIN_LETTERS or len(word) > WORD_MAX + 1:
        return None  # too short to tell a typo, or too long to be one edit from a word
    corrected = await correction(reader, word, prefix=term.prefix)
    return Term((corrected,), prefix=term.prefix) if corrected is not None else None


async def resolve(reader: DirectReader, clauses: Sequence[Clause]) -> Resolved:
    """`clauses` with each bare term that matches no product completed or corrected.

    Called when a search found nothing: a prefix that the stemmer cut (`computi`)
    also matches the words it starts (`computing`), and a word of
    `TYPO_MIN_LETTERS` letters or more that matches nothing is replaced by the
    vocabulary's word within one edit of it, if any.
    """
    dialect = reader.dialect.name
    resolved = Resolved(list(clauses))
    tries = 0
    for term in dict.fromkeys(positive_terms(clauses)):
        alone = expression(dialect, [Clause((term,))])
        if tries == MAX_HELPED or alone is None or await matches_anything(reader, alone):
            continue
        tries += 1
        helped = await _help(reader, term)
        if helped is None:
            continue
        if helped.words != term.words:
            resolved.corrections[term.words[0]] = helped.words[0]
        resolved = Resolved(replace_term(resolved.clauses, term, helped), resolved.corrections)
    return resolved
