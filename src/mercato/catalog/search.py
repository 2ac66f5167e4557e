"""Full-text search over products, on SQLite (FTS5), PostgreSQL (tsvector) and MySQL.

Users type web-search syntax: words (all must match), `"quoted phrases"`, `or`
between alternatives and `-word` to exclude. `parse` reads it into clauses of terms,
and each backend gets an expression built from those terms alone: an FTS5 query in
which every word is quoted (`fts5_expression`), or a `to_tsquery` text in which every
word is a quoted lexeme (`tsquery_expression`), so that no input is a syntax error or
reaches an operator of either language. Both stem English words (`laptops` finds
`laptop`). A query without a single positive word (blank, punctuation only, only
exclusions) is no search at all.

As-you-type: the last word of a query, when it is bare (not quoted, not excluded)
and has at least `PREFIX_MIN` characters, matches as a prefix (`lap` finds
"Laptop"), and so does any word typed with a trailing `*` (`lap*`). Both backends
stem a prefix as if it were a word, so a prefix that ends inside a suffix the
stemmer removes (`computi` of "computing", stored as `comput`) would find nothing:
a prefix term therefore also matches the whole words of the vocabulary that start
with it (`Term.also`, filled in by `catalog.vocabulary`). Typo tolerance replaces a
word by another (`replace_word`), also decided there.

MySQL/MariaDB's boolean-mode text is `catalog.search_innodb`'s; the order of the
results (relevance) is `catalog.ranking`'s.

`text_search(dialect)` gives the condition of a search, reading the backend's
expression from the `search` parameter (`expression(dialect, clauses)`), so that a
listing's statement is built once per shape, not per query, and the integer key
that a relevance order walks (the FTS5 table's rowid on SQLite, the products' `pk`
elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    column,
    func,
    literal_column,
    table,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.expression import TableClause

from mercato.catalog.models import Product
from mercato.catalog.search_innodb import boolean_expression
from mercato.catalog.search_terms import Clause, Term

__all__ = [
    "FTS_TABLE",
    "PREFIX_MIN",
    "Clause",
    "Term",
    "TextSearch",
    "expression",
    "fts5_expression",
    "fts5_query",
    "has_terms",
    "parse",
    "positive_terms",
    "replace_term",
    "text_search",
    "tsquery_expression",
]

FTS_TABLE: TableClause = table("products_fts", column("rowid"))
PG_CONFIG = "english"
MAX_CLAUSES = 16
PREFIX_MIN = 2  # a one-letter prefix would match a good part of any catalog

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Standalone English stop words, dropped as PostgreSQL's `english` configuration does.
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
    "in", "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "then",
    "there", "these", "they", "this", "to", "was", "were", "will", "with",
))  # fmt: skip


def _term(raw: str, *, quoted: bool) -> Term | None:
    words = tuple(w.lower() for w in _WORD.findall(raw))
    if not words or (not quoted and len(words) == 1 and words[0] in STOP_WORDS):
        return None
    return Term(words, exact=quoted, prefix=not quoted and raw.endswith("*"))


def _read(match: re.Match[str]) -> tuple[Term | None, bool]:
    """The term of one token and whether it is negated."""
    negated_quote, quoted, bare = match.groups()
    if quoted is not None:
        return _term(quoted, quoted=True), bool(negated_quote)
    negated = bare.startswith("-") and len(bare) > 1
    return _term(bare[1:] if negated else bare, quoted=False), negated


def _with_last_word_as_prefix(clauses: list[Clause]) -> list[Clause]:
    """Make the query's last term a prefix when it is bare, positive and long enough."""
    if not clauses or clauses[-1].negated:
        return clauses
    last = clauses[-1].alternatives[-1]
    if last.exact or len(last.words[-1]) < PREFIX_MIN:
        return clauses
    alternatives = (*clauses[-1].alternatives[:-1], replace(last, prefix=True))
    return [*clauses[:-1], Clause(alternatives)]


def parse(q: str) -> list[Clause]:
    """The clauses of a web-search style query, in order, its last word a prefix."""
    clauses: list[Clause] = []
    pending_or = False
    last_is_term = False  # whether the last token read was the last term
    for match in _TOKEN.finditer(q):
        last_is_term = False
        if match.group(3) is not None and match.group(3).lower() == "or":
            pending_or = bool(clauses) and not clauses[-1].negated
            continue
        term, negated = _read(match)
        if term is None:
            pending_or = False
            continue
        if pending_or and not negated:
            last = clauses[-1]
            clauses[-1] = Clause((*last.alternatives, term))
        else:
            clauses.append(Clause((term,), negated))
        pending_or = False
        last_is_term = True
    if len(clauses) > MAX_CLAUSES:
        return clauses[:MAX_CLAUSES]
    return _with_last_word_as_prefix(clauses) if last_is_term else clauses


def has_terms(q: str | None) -> bool:
    """Whether `q` holds at least one word to search for."""
    return bool(q) and any(not c.negated for c in parse(q or ""))


def positive_terms(clauses: Sequence[Clause]) -> list[Term]:
    """The terms that must (or may, as alternatives) match: those of clauses not negated."""
    return [term for clause in clauses if not clause.negated for term in clause.alternatives]


def replace_term(clauses: Sequence[Clause], old: Term, new: Term) -> list[Clause]:
    """The clauses with every occurrence of the term `old` replaced by `new`."""
    return [
        Clause(tuple(new if t == old else t for t in c.alternatives), c.negated) for c in clauses
    ]


def _fts5_term(term: Term) -> str:
    phrase = '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")
    if not term.also:
        return phrase
    return "(" + " OR ".join([phrase, *(f'"{word}"' for word in term.also)]) + ")"


def _fts5_clause(clause: Clause) -> str:
    alternatives = " OR ".join(_fts5_term(t) for t in clause.alternatives)
    return f"({alternatives})" if len(clause.alternatives) > 1 else alternatives


def fts5_expression(clauses: Sequence[Clause], *, columns: str = "") -> str | None:
    """The FTS5 MATCH expression of `clauses`, or None when no clause is positive.

    `columns` (`"{title brand}"`) limits the positive clauses to those columns; an
    excluded word excludes wherever it is.
    """
    positive = [_fts5_clause(c) for c in clauses if not c.negated]
    if not positive:
        return None
    expression = " AND ".join(positive)
    if columns:
        expression = f"{columns}: ({expression})"
    negated = [_fts5_clause(c) for c in clauses if c.negated]
    if negated:
        expression = f"({expression})" + "".join(f" NOT {n}" for n in negated)
    return expression


def fts5_query(q: str) -> str | None:
    """The FTS5 MATCH expression for `q` as typed (no vocabulary), or None."""
    return fts5_expression(parse(q))


def _lexeme(word: str, *, prefix: bool = False) -> str:
    # A word is \w+: letters, digits and `_`, never a quote, so quoting is enough.
    return f"'{word}'" + (":*" if prefix else "")


def _tsquery_term(term: Term) -> str:
    last = len(term.words) - 1
    lexemes = [_lexeme(w, prefix=term.prefix and i == last) for i, w in enumerate(term.words)]
    phrase = " <-> ".join(lexemes)
    if len(lexemes) > 1:
        phrase = f"({phrase})"
    if not term.also:
        return phrase
    return "(" + " | ".join([phrase, *(_lexeme(word) for word in term.also)]) + ")"


def _tsquery_clause(clause: Clause) -> str:
    alternatives = " | ".join(_tsquery_term(t) for t in clause.alternatives)
    text = f"({alternatives})" if len(clause.alternatives) > 1 else alternatives
    return f"!{text}" if clause.negated else text


def tsquery_expression(clauses: Sequence[Clause]) -> str | None:
    """The `to_tsquery` text of `clauses`, or None when no clause is positive."""
    if all(c.negated for c in clauses):
        return None
    return " & ".join(_tsquery_clause(c) for c in clauses)


def expression(dialect: str, clauses: Sequence[Clause]) -> str | None:
    """The value of the `search` parameter for `clauses`, or None when it is no search."""
    if dialect == "postgresql":
        return tsquery_expression(clauses)
    if dialect == "mysql":
        return boolean_expression(clauses)
    return fts5_expression(clauses)


@dataclass(frozen=True, slots=True)
class TextSearch:
    """What a search adds to a product query; the terms are the `search` parameter.

    `key`: the products' integer key as the search's index gives it, in the order
    a relevance listing walks (`catalog.ranking`).
    """

    condition: ColumnElement[bool]
    key: ColumnElement[int]
    join_fts: bool


def text_search(dialect: str) -> TextSearch:
    """The condition of a search for the `search` parameter, and the key it walks."""
    terms = bindparam("search", type_=String())
    pk: ColumnElement[int] = Product.__table__.c.pk
    if dialect == "postgresql":
        document: ColumnElement[Any] = literal_column("products.search")
        query = func.to_tsquery(literal_column(f"'{PG_CONFIG}'::regconfig"), terms)
        return TextSearch(document.op("@@")(query), pk, join_fts=False)
    if dialect == "mysql":
        # The generated `search` column, which holds the text of every searched column.
        match = mysql.match(literal_column("products.search"), against=terms)
        return TextSearch(match.in_boolean_mode(), pk, join_fts=False)
    fts: ColumnElement[Any] = literal_column(FTS_TABLE.name)
    return TextSearch(fts.op("MATCH")(terms), FTS_TABLE.c.rowid, join_fts=True)


def fts_join_condition() -> ColumnElement[bool]:
    """How the FTS5 table joins the products table."""
    return FTS_TABLE.c.rowid == Product.__table__.c.pk
