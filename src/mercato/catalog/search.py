"""Full-text search over products, on SQLite (FTS5) and PostgreSQL (tsvector).

Users type web-search syntax: words (all must match), `"quoted phrases"`, `or`
between alternatives and `-word` to exclude. PostgreSQL reads that syntax itself
(`websearch_to_tsquery`); for SQLite `fts5_query` translates it into an FTS5 query in
which every word is quoted, so no input can be an FTS5 syntax error. Both stem
English words (`laptops` finds `laptop`). A query without a single positive word
(blank, punctuation only, only exclusions) is no search at all.

`text_search(dialect)` gives the condition and a rank expression where lower is
better on both backends (BM25 on SQLite, negated `ts_rank` on PostgreSQL), so that
relevance ordering and its keyset are the same code for both. Both read the terms
from the `search` parameter (`search_terms(dialect, q)`), so that a listing's
statement is built once per shape, not per query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    bindparam,
    column,
    func,
    literal_column,
    table,
    type_coerce,
)
from sqlalchemy.sql.expression import TableClause

from mercato.catalog.models import Product

__all__ = [
    "FTS_TABLE",
    "Clause",
    "TextSearch",
    "fts5_query",
    "parse",
    "search_terms",
    "text_search",
]

FTS_TABLE: TableClause = table("products_fts", column("rowid"))
# BM25 weights of the FTS5 columns: title, brand, description, category, tags.
BM25_WEIGHTS = (10.0, 8.0, 1.0, 4.0, 4.0)
PG_CONFIG = "english"
MAX_CLAUSES = 16

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Standalone English stop words, dropped as PostgreSQL's `english` configuration does.
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
    "in", "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "then",
    "there", "these", "they", "this", "to", "was", "were", "will", "with",
))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Clause:
    """One term of a query: alternatives (each a phrase of words), maybe negated."""

    alternatives: tuple[tuple[str, ...], ...]
    negated: bool = False


def _phrase(raw: str, *, quoted: bool) -> tuple[str, ...]:
    words = tuple(w.lower() for w in _WORD.findall(raw))
    if not quoted and len(words) == 1 and words[0] in STOP_WORDS:
        return ()
    return words


def parse(q: str) -> list[Clause]:
    """The clauses of a web-search style query, in order."""
    clauses: list[Clause] = []
    pending_or = False
    for match in _TOKEN.finditer(q):
        negated_quote, quoted, bare = match.groups()
        if bare is not None and bare.lower() == "or":
            pending_or = bool(clauses) and not clauses[-1].negated
            continue
        if quoted is not None:
            negated, words = bool(negated_quote), _phrase(quoted, quoted=True)
        else:
            negated = bare.startswith("-") and len(bare) > 1
            words = _phrase(bare[1:] if negated else bare, quoted=False)
        if not words:
            pending_or = False
            continue
        if pending_or and not negated:
            last = clauses[-1]
            clauses[-1] = Clause((*last.alternatives, words))
        else:
            clauses.append(Clause((words,), negated))
        pending_or = False
    return clauses[:MAX_CLAUSES]


def has_terms(q: str | None) -> bool:
    """Whether `q` holds at least one word to search for."""
    return bool(q) and any(not c.negated for c in parse(q or ""))


def _fts5_phrase(words: tuple[str, ...]) -> str:
    return '"' + " ".join(words) + '"'


def fts5_query(q: str) -> str | None:
    """The FTS5 MATCH expression for `q`, or None when it holds no positive word."""
    clauses = parse(q)
    positive = [c for c in clauses if not c.negated]
    if not positive:
        return None
    parts = []
    for clause in positive:
        alternatives = " OR ".join(_fts5_phrase(a) for a in clause.alternatives)
        parts.append(f"({alternatives})" if len(clause.alternatives) > 1 else alternatives)
    expression = " AND ".join(parts)
    negated = [c for c in clauses if c.negated]
    if negated:
        expression = f"({expression})" + "".join(
            f" NOT {_fts5_phrase(c.alternatives[0])}" for c in negated
        )
    return expression


@dataclass(frozen=True, slots=True)
class TextSearch:
    """What a search adds to a product query; the terms are the `search` parameter."""

    condition: ColumnElement[bool]
    rank: ColumnElement[float]
    join_fts: bool


def search_terms(dialect: str, q: str) -> str | None:
    """The value of the `search` parameter for `q`, or None when it is no search."""
    if dialect == "postgresql":
        return q if has_terms(q) else None  # websearch_to_tsquery reads the syntax itself
    return fts5_query(q)


def text_search(dialect: str) -> TextSearch:
    """The condition and rank (lower is better) of a search for the `search` parameter."""
    terms = bindparam("search", type_=String())
    if dialect == "postgresql":
        document: ColumnElement[Any] = literal_column("products.search")
        query = func.websearch_to_tsquery(literal_column(f"'{PG_CONFIG}'::regconfig"), terms)
        rank = type_coerce(-func.ts_rank(document, query), Float())
        return TextSearch(document.op("@@")(query), rank, join_fts=False)
    fts: ColumnElement[Any] = literal_column(FTS_TABLE.name)
    weights: list[ColumnElement[Any]] = [literal_column(repr(w)) for w in BM25_WEIGHTS]
    rank = type_coerce(func.bm25(fts, *weights), Float())
    return TextSearch(fts.op("MATCH")(terms), rank, join_fts=True)


def fts_join_condition() -> ColumnElement[bool]:
    """How the FTS5 table joins the products table."""
    return FTS_TABLE.c.rowid == Product.__table__.c.pk
