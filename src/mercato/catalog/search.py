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

On MySQL/MariaDB an InnoDB FULLTEXT index on the generated `search` column answers
`MATCH ... AGAINST` in boolean mode (`boolean_expression`: `+` for each required
clause, `-` for an excluded one, `word*` for a prefix, `"..."` for a phrase). InnoDB
does not stem: a bare word there also matches its English singular or plural
(`plural_forms`: `laptops` finds `laptop` and the other way round), which covers the
stemming shoppers meet most, not all of it (`computing` does not find `computer`).
Nor does InnoDB index words shorter than its `innodb_ft_min_token_size` (3 by
default) or in its stop-word list: such words are left out of the expression
(`MYSQL_MIN_WORD`), as PostgreSQL leaves out its stop words, and a query of nothing
but such words finds nothing (an operator who sells TVs lowers that setting). A
prefix of a phrase (`"usb c*"`) matches its words anywhere, not side by side.

`text_search(dialect)` gives the condition and a rank expression where lower is
better on every backend (BM25 on SQLite, negated `ts_rank` on PostgreSQL, negated
InnoDB relevance on MySQL), so that
relevance ordering and its keyset are the same code for both. Both read the
expression from the `search` parameter (`expression(dialect, clauses)`), so that a
listing's statement is built once per shape, not per query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.expression import TableClause

from mercato.catalog.models import Product

__all__ = [
    "FTS_TABLE",
    "PREFIX_MIN",
    "Clause",
    "Term",
    "TextSearch",
    "boolean_expression",
    "expression",
    "fts5_expression",
    "fts5_query",
    "has_terms",
    "parse",
    "plural_forms",
    "positive_terms",
    "replace_term",
    "text_search",
    "tsquery_expression",
]

FTS_TABLE: TableClause = table("products_fts", column("rowid"))
# BM25 weights of the FTS5 columns: title, brand, description, category, tags.
BM25_WEIGHTS = (10.0, 8.0, 1.0, 4.0, 4.0)
PG_CONFIG = "english"
MAX_CLAUSES = 16
PREFIX_MIN = 2  # a one-letter prefix would match a good part of any catalog
# InnoDB's default `innodb_ft_min_token_size`: shorter whole words are not indexed.
MYSQL_MIN_WORD = 3
# InnoDB's default stop words beyond `STOP_WORDS` (INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD).
MYSQL_STOP_WORDS = frozenset(
    (
        "about",
        "com",
        "de",
        "en",
        "how",
        "i",
        "la",
        "und",
        "what",
        "when",
        "where",
        "who",
        "www",
    )
) | frozenset(
    (
        "a",
        "an",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "will",
        "with",
    )
)

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Standalone English stop words, dropped as PostgreSQL's `english` configuration does.
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
    "in", "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "then",
    "there", "these", "they", "this", "to", "was", "were", "will", "with",
))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Term:
    """A phrase of one or more words: quoted (`exact`), or bare and maybe a prefix.

    `prefix`: its last word matches as a prefix; `also`: whole words that the
    prefix matches too (from the vocabulary, see the module's docstring).
    """

    words: tuple[str, ...]
    exact: bool = False
    prefix: bool = False
    also: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of a query: alternatives (`or`), maybe negated (`-`)."""

    alternatives: tuple[Term, ...]
    negated: bool = False


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


def fts5_expression(clauses: Sequence[Clause]) -> str | None:
    """The FTS5 MATCH expression of `clauses`, or None when no clause is positive."""
    positive = [_fts5_clause(c) for c in clauses if not c.negated]
    if not positive:
        return None
    expression = " AND ".join(positive)
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


def _indexed(word: str, *, prefix: bool) -> bool:
    """Whether InnoDB can find `word` (a prefix is looked up in the index as it is)."""
    return prefix or (len(word) >= MYSQL_MIN_WORD and word not in MYSQL_STOP_WORDS)


# (ending, replaced by), tried in order: the first ending `word` has gives its other form.
_NUMBER_ENDINGS = (
    ("ies", "y"),
    ("sses", "ss"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("xes", "x"),
    ("ss", "sses"),
    ("us", "uses"),
    ("is", "ises"),
    ("s", ""),
    ("ch", "ches"),
    ("sh", "shes"),
    ("x", "xes"),
)


def plural_forms(word: str) -> list[str]:
    """`word` and its English singular or plural, for a backend that does not stem."""
    if len(word) < MYSQL_MIN_WORD or not word.isalpha():
        return [word]
    other = word + "s"
    if word.endswith("y") and word[-2] not in "aeiou":
        other = word[:-1] + "ies"
    else:
        for ending, replacement in _NUMBER_ENDINGS:
            if word.endswith(ending):
                other = word[: -len(ending)] + replacement
                break
    return [word, other] if len(other) >= MYSQL_MIN_WORD else [word]


def _boolean_term(term: Term) -> str | None:
    last = len(term.words) - 1
    words = [w for i, w in enumerate(term.words) if _indexed(w, prefix=term.prefix and i == last)]
    if not words:
        return None
    if term.prefix and len(words) > 1:
        phrase = "(" + " ".join(f"+{w}" for w in words[:-1]) + f" +{words[-1]}*)"
    elif len(words) > 1:
        phrase = '"' + " ".join(words) + '"'
    elif term.prefix:  # its plurals start with it; its singular may not (`laptops`)
        shorter = [w for w in plural_forms(words[0])[1:] if len(w) < len(words[0])]
        shorter = [w for w in shorter if _indexed(w, prefix=False)]
        phrase = f"({' '.join([words[0] + '*', *shorter])})" if shorter else words[0] + "*"
    elif term.exact:
        phrase = words[0]
    else:
        forms = [w for w in plural_forms(words[0]) if _indexed(w, prefix=False)]
        phrase = forms[0] if len(forms) == 1 else f"({' '.join(forms)})"
    also = [w for w in term.also if _indexed(w, prefix=False)]
    return f"({' '.join([phrase, *also])})" if also else phrase


def boolean_expression(clauses: Sequence[Clause]) -> str | None:
    """The InnoDB boolean-mode text of `clauses`, or None when no clause is positive.

    A clause none of whose words InnoDB indexes is left out, like a stop word (`tv
    stand` finds the stands); a query left with no positive clause then asks for a
    word no index holds, and finds nothing rather than everything.
    """
    if all(c.negated for c in clauses):
        return None
    parts = []
    for clause in clauses:
        alternatives = [t for t in map(_boolean_term, clause.alternatives) if t is not None]
        if alternatives:
            group = alternatives[0] if len(alternatives) == 1 else f"({' '.join(alternatives)})"
            parts.append(("-" if clause.negated else "+") + group)
    if not any(part.startswith("+") for part in parts):
        return '+"0"'  # a word shorter than every indexed one: no match
    return " ".join(parts)


def expression(dialect: str, clauses: Sequence[Clause]) -> str | None:
    """The value of the `search` parameter for `clauses`, or None when it is no search."""
    if dialect == "postgresql":
        return tsquery_expression(clauses)
    if dialect == "mysql":
        return boolean_expression(clauses)
    return fts5_expression(clauses)


@dataclass(frozen=True, slots=True)
class TextSearch:
    """What a search adds to a product query; the terms are the `search` parameter."""

    condition: ColumnElement[bool]
    rank: ColumnElement[float]
    join_fts: bool


def text_search(dialect: str) -> TextSearch:
    """The condition and rank (lower is better) of a search for the `search` parameter."""
    terms = bindparam("search", type_=String())
    if dialect == "postgresql":
        document: ColumnElement[Any] = literal_column("products.search")
        query = func.to_tsquery(literal_column(f"'{PG_CONFIG}'::regconfig"), terms)
        rank = type_coerce(-func.ts_rank(document, query), Float())
        return TextSearch(document.op("@@")(query), rank, join_fts=False)
    if dialect == "mysql":
        # The generated `search` column, which holds the text of every searched column.
        relevance = mysql.match(literal_column("products.search"), against=terms)
        relevance = relevance.in_boolean_mode()
        return TextSearch(relevance, type_coerce(-relevance, Float()), join_fts=False)
    fts: ColumnElement[Any] = literal_column(FTS_TABLE.name)
    weights: list[ColumnElement[Any]] = [literal_column(repr(w)) for w in BM25_WEIGHTS]
    rank = type_coerce(func.bm25(fts, *weights), Float())
    return TextSearch(fts.op("MATCH")(terms), rank, join_fts=True)


def fts_join_condition() -> ColumnElement[bool]:
    """How the FTS5 table joins the products table."""
    return FTS_TABLE.c.rowid == Product.__table__.c.pk
