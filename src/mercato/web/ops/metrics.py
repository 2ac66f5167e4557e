"""What the console reads from a process's Prometheus text, and the rates it computes.

A scrape of one instance's `/metrics` becomes a `Sample` (`sample_of`): the totals of
its HTTP requests and server errors, the cumulative buckets of its request-latency
histogram (every route summed), and the gauges the console shows as they are: its
circuit breakers by target, its outbox backlog and the age of its oldest unpublished
event, its durable consumers' lag, and how many events it dead-lettered. Metric names
are those of docs/observability.md.

Rates need two samples: `Change` is what happened between an older and a newer
sample of one instance (requests per second, the share of server errors, the 99th
percentile of latency interpolated in the histogram's buckets the way Prometheus'
`histogram_quantile` does). A counter that went down means the process restarted:
the newer sample's value is then what happened since.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Change", "Sample", "histogram_quantile", "merge_changes", "sample_of"]

CIRCUIT_STATES = {0: "closed", 1: "half-open", 2: "open"}


@dataclass(frozen=True, slots=True)
class Sample:
    """One scrape of one process: counters since its start, gauges as they are."""

    at: float  # the monitor's clock when it was taken (seconds)
    requests: float = 0.0
    errors: float = 0.0  # answers 5xx
    buckets: Mapping[float, float] = field(default_factory=dict)  # le -> cumulative count
    circuits: Mapping[str, int] = field(default_factory=dict)  # target -> 0, 1 or 2
    outbox_backlog: float | None = None
    outbox_age: float | None = None
    lag: Mapping[str, float] = field(default_factory=dict)  # consumer -> events waiting
    dead_letters: float | None = None


def _number(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def sample_of(text: str, at: float) -> Sample:
    """The `Sample` of a Prometheus exposition (ValueError when it does not parse)."""
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    circuits: dict[str, int] = {}
    lag: dict[str, float] = {}
    backlog = age = dead = None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            name, labels, value = s.name, s.labels, _number(s.value)
            if name == "http_requests_total":
                requests += value
                if labels.get("status", "").startswith("5"):
                    errors += value
            elif name == "http_request_duration_seconds_bucket":
                le = float(labels.get("le", "+Inf"))
                buckets[le] = buckets.get(le, 0.0) + value
            elif name == "client_circuit_state":
                circuits[labels.get("target", "?")] = int(value)
            elif name == "outbox_backlog_events":
                backlog = (backlog or 0.0) + value
            elif name == "outbox_oldest_event_age_seconds":
                age = max(age or 0.0, value)
            elif name == "events_consumer_lag_events":
                lag[labels.get("consumer", "?")] = value
            elif name == "events_dead_letters_total":
                dead = (dead or 0.0) + value
    return Sample(at, requests, errors, buckets, circuits, backlog, age, lag, dead)


def _grown(new: float, old: float) -> float:
    """How much a counter grew; after a restart (it went down), its new value."""
    return new - old if new >= old else new


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The `q` quantile of cumulative `buckets` (le -> count), as Prometheus computes it.

    None without observations. Linear interpolation within the bucket the rank falls
    in (from 0 for the first); a rank in the `+Inf` bucket is the largest finite bound.
    """
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf:
        return None
    total = buckets[math.inf]
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return previous_bound
            inside = count - previous_count
            if inside <= 0:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / inside
        previous_bound, previous_count = bound, count
    return previous_bound


@dataclass(frozen=True, slots=True)
class Change:
    """What one instance (or several, merged) did between two samples."""

    seconds: float
    requests: float
    errors: float
    buckets: Mapping[float, float]

    @classmethod
    def between(cls, old: Sample, new: Sample) -> Change:
        """The change from `old` to `new` (a restart in between counts from zero)."""
        restarted = new.requests < old.requests
        buckets = {
            le: count if restarted else _grown(count, old.buckets.get(le, 0.0))
            for le, count in new.buckets.items()
        }
        return cls(
            seconds=max(new.at - old.at, 1e-9),
            requests=new.requests if restarted else _grown(new.requests, old.requests),
            errors=new.errors if restarted else _grown(new.errors, old.errors),
            buckets=buckets,
        )

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds

    @property
    def error_ratio(self) -> float | None:
        """The share of answers that were server errors (None without requests)."""
        return self.errors / self.requests if self.requests > 0 else None

    @property
    def p99(self) -> float | None:
        """The 99th percentile of the answers' latency, in seconds (None without any)."""
        return histogram_quantile(0.99, self.buckets)


def merge_changes(changes: Iterable[Change]) -> Change | None:
    """Several instances' changes as one service's (rates add up; latency pooled)."""
    changes = list(changes)
    if not changes:
        return None
    seconds = max(c.seconds for c in changes)
    # Each instance's count over its own span, scaled to the longest span, so that the
    # rates add up even when the instances were sampled a little apart.
    requests = sum(c.requests * seconds / c.seconds for c in changes)
    errors = sum(c.errors * seconds / c.seconds for c in changes)
    buckets: dict[float, float] = {}
    for change in changes:
        for le, count in change.buckets.items():
            buckets[le] = buckets.get(le, 0.0) + count
    return Change(seconds, requests, errors, buckets)
