"""A search's text for MySQL/MariaDB: InnoDB's boolean mode.

An InnoDB FULLTEXT index on the generated `search` column answers `MATCH ... AGAINST`
in boolean mode (`boolean_expression`: `+` for each required clause, `-` for an
excluded one, `word*` for a prefix, `"..."` for a phrase). InnoDB does not stem: a
bare word there also matches its English singular or plural (`plural_forms`:
`laptops` finds `laptop` and the other way round), which covers the stemming shoppers
meet most, not all of it (`computing` does not find `computer`). Nor does InnoDB index
words shorter than its `innodb_ft_min_token_size` (3 by default) or in its stop-word
list: such words are left out of the expression (`MYSQL_MIN_WORD`), as PostgreSQL
leaves out its stop words, and a query of nothing but such words finds nothing (an
operator who sells TVs lowers that setting). A prefix of a phrase (`"usb c*"`) matches
its words anywhere, not side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

from mercato.catalog.search_terms import Clause, Term

__all__ = ["MYSQL_MIN_WORD", "boolean_expression", "plural_forms"]

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
