"""Prometheus metrics of the calls a process makes to other services (`ServiceClient`).

    client_request_duration_seconds{service,target}   histogram: a call, retries included,
                                                      from its start to its answer or error
    client_circuit_opened_total{service,target}       counter: circuits that opened
    client_circuit_state{service,target}              gauge: 0 closed, 1 half-open, 2 open

A target with several instances has a circuit per instance (`ServiceClient.breaker`):
each opening counts, and the target's state is the least open of its instances'
(2 only when every instance refuses calls, the moment its callers fail at once).
The state is read from the breakers when scraped, since an open circuit turns
half-open with time alone.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from mercato.chassis.client.circuit import CircuitState

__all__ = ["STATE_VALUES", "ClientMetrics", "timed_call"]

STATE_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}
# A call within the process's data centre: milliseconds, up to a deadline of seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STATE = "client_circuit_state"
_STATE_HELP = "The circuit breaker of a target: 0 closed, 1 half-open, 2 open."

P = ParamSpec("P")
R = TypeVar("R")
Circuits = Callable[[], Mapping[str, CircuitState]]  # breaker name -> state


class ClientMetrics:
    """The outgoing call metrics of one service process."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.registry = registry
        self._duration = Histogram(
            "client_request_duration_seconds",
            "Time of a call to another service, retries included, by target.",
            ["service", "target"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self._opened = Counter(
            "client_circuit_opened_total",
            "Times a circuit breaker to a target (or one of its instances) opened.",
            ["service", "target"],
            registry=registry,
        )
        self._durations: dict[str, Any] = {}
        self._watched = False

    def observe(self, target: str, seconds: float) -> None:
        """Record one call to `target`."""
        child = self._durations.get(target)
        if child is None:
            child = self._durations[target] = self._duration.labels(self.service, target)
        child.observe(seconds)

    def opener(self, target: str) -> Callable[[], None]:
        """What a breaker of `target` calls when it opens."""
        inc: Callable[[], None] = self._opened.labels(self.service, target).inc
        return inc

    def watch(self, circuits: Circuits) -> None:
        """Show the state of the circuits `circuits()` names (once per process)."""
        if not self._watched:
            self._watched = True
            self.registry.register(_CircuitStates(self.service, circuits))


class _CircuitStates:
    """A collector of the circuits' states, each target's read when scraped."""

    def __init__(self, service: str, circuits: Circuits) -> None:
        self.service = service
        self.circuits = circuits

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(_STATE, _STATE_HELP, labels=["service", "target"])

    def collect(self) -> Iterator[Metric]:
        states: dict[str, int] = {}
        for name, state in self.circuits().items():
            target = name.partition("@")[0]  # an instance's breaker is `<target>@<url>`
            value = STATE_VALUES[state]
            states[target] = min(value, states.get(target, value))
        family = GaugeMetricFamily(_STATE, _STATE_HELP, labels=["service", "target"])
        for target, value in sorted(states.items()):
            family.add_metric([self.service, target], value)
        yield family


class _Measured(Protocol):
    @property
    def metrics(self) -> ClientMetrics | None: ...


C = TypeVar("C", bound=_Measured)


def timed_call(
    call: Callable[Concatenate[C, P], Awaitable[R]],
) -> Callable[Concatenate[C, P], Awaitable[R]]:
    """Decorate a client's call (taking `target=`): its time in the client's metrics."""

    @functools.wraps(call)
    async def timed(client: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        metrics = client.metrics
        if metrics is None:
            return await call(client, *args, **kwargs)
        started = time.perf_counter()
        try:
            return await call(client, *args, **kwargs)
        finally:
            metrics.observe(str(kwargs.get("target")), time.perf_counter() - started)

    return timed
