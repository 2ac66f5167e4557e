"""The terms of a parsed search query (`catalog.search.parse`), read by every backend."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Clause", "Term"]


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
