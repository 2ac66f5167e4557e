"""The metric names a PromQL expression reads, and which of Mercato's metrics each is.

`metric_names(expr)` is a small scanner, not a parser: it drops strings, label
matchers (`{...}`), ranges (`[...]`) and the label lists of `by`, `without`, `on`,
`ignoring`, `group_left` and `group_right`; of the names left, one followed by `(` is
a function or an aggregation, a keyword is a keyword, and every other is a metric.
That is enough for the expressions of the rules and dashboards, whose syntax
`promtool check rules` checks on its own; its tests pin what it finds.

`grafana_to_promql(expr)` replaces Grafana's variables (`$__rate_interval`,
`$__range`, `$service`...) with values PromQL accepts. `family_of(name)` is the metric
of `tests.support.metrics.METRICS` a sample name belongs to (a histogram's `_bucket`,
`_sum` and `_count` belong to it).
"""

from __future__ import annotations

import re

from tests.support.metrics import METRICS, Metric

__all__ = ["BUILTIN", "family_of", "grafana_to_promql", "metric_names"]

# Series Prometheus makes itself: a target's health, and the alerts' states.
BUILTIN = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
_KEYWORDS = _GROUPING | frozenset({"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"})
_TOKEN = re.compile(
    r"""
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<number>\d[\w.]*)
    | (?P<name>[A-Za-z_:][\w:]*)
    | (?P<punct>[{}()\[\],])
    | (?P<other>[^\s])
    """,
    re.VERBOSE,
)
_SKIPPED = {"{": "}", "[": "]"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
GRAFANA_VALUES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _tokens(expr: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(expr):
        kind = match.lastgroup
        assert kind is not None
        if kind != "string":
            found.append((kind, match.group()))
    return found


def _skip_to(tokens: list[tuple[str, str]], start: int, closing: str) -> int:
    """The index after the token closing the bracket opened at `start`."""
    opening, depth = tokens[start][1], 0
    for index in range(start, len(tokens)):
        if tokens[index][1] == opening:
            depth += 1
        elif tokens[index][1] == closing:
            depth -= 1
            if depth == 0:
                return index + 1
    raise ValueError(f"unbalanced {opening!r} in PromQL")


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects."""
    tokens = _tokens(expr)
    names: set[str] = set()
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if text in _SKIPPED:
            index = _skip_to(tokens, index, _SKIPPED[text])
            continue
        if kind == "name" and text in _GROUPING and following == "(":
            index = _skip_to(tokens, index + 1, ")")
            continue
        aggregation = text in _AGGREGATIONS and following in ("by", "without")
        if kind == "name" and following != "(" and text not in _KEYWORDS and not aggregation:
            names.add(text)
        index += 1
    return names


def grafana_to_promql(expr: str, values: dict[str, str] | None = None) -> str:
    """`expr` with Grafana's variables replaced: its intervals, and `values` (else `.*`)."""
    given = {**GRAFANA_VALUES, **(values or {})}

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return given.get(name, ".*")

    return _VARIABLE.sub(value, expr)


def family_of(name: str) -> Metric | None:
    """The metric of `METRICS` the sample `name` belongs to; None if none."""
    by_name = {metric.name: metric for metric in METRICS}
    if name in by_name:
        return by_name[name]
    for suffix in _HISTOGRAM_SUFFIXES:
        base = by_name.get(name.removesuffix(suffix))
        if name.endswith(suffix) and base is not None and base.kind == "histogram":
            return base
    return None
