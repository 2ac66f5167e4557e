"""What the console's system page shows, built from the monitor's reading.

`system_view(reading)` gives one row per service (its instances merged: requests per
second, share of server errors, 99th percentile latency) followed by a row per
instance (its health, the same figures, its outbox backlog, its consumers' lag), then
the circuit breakers that are not closed and the event figures. Every number is text
already ("12.5/s", "0.4 %", "37 ms"); what is unknown says so ("no data").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mercato.chassis.events.sampling import BACKLOG_COUNTED
from mercato.web.ops.metrics import CIRCUIT_STATES, Change, merge_changes
from mercato.web.ops.monitor import InstanceReading, Reading

__all__ = [
    "CircuitRow",
    "InstanceRow",
    "LagRow",
    "ServiceRow",
    "SystemView",
    "figure_ms",
    "figure_percent",
    "figure_rate",
    "system_view",
]

UNKNOWN = "no data"


def figure_rate(change: Change | None) -> str:
    """Requests per second, or `no data`."""
    if change is None:
        return UNKNOWN
    rate = change.rate
    return f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s"


def figure_percent(change: Change | None) -> str:
    """The share of server errors, or `no data` (also without requests)."""
    ratio = change.error_ratio if change is not None else None
    if ratio is None:
        return UNKNOWN
    return f"{ratio * 100:.1f} %" if ratio < 0.1 else f"{ratio * 100:.0f} %"


def figure_ms(change: Change | None) -> str:
    """The 99th percentile latency in milliseconds, or `no data`."""
    p99 = change.p99 if change is not None else None
    if p99 is None:
        return UNKNOWN
    return f"{p99 * 1000:.1f} ms" if p99 < 0.01 else f"{p99 * 1000:.0f} ms"


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One instance's line."""

    instance: str
    health: str
    health_ok: bool
    health_detail: str
    rate: str
    errors: str
    p99: str
    outbox: str
    lag: str


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """One service: its instances together, then each."""

    name: str
    health: str  # "3 of 3 ready"
    healthy: bool
    rate: str
    errors: str
    p99: str
    instances: tuple[InstanceRow, ...]


@dataclass(frozen=True, slots=True)
class CircuitRow:
    """A circuit breaker that is not closed: who calls, which target, how open."""

    instance: str
    target: str
    state: str


@dataclass(frozen=True, slots=True)
class LagRow:
    """A durable consumer's lag, and how many events its service dead-lettered."""

    instance: str
    consumer: str
    lag: str


@dataclass(frozen=True, slots=True)
class SystemView:
    """The whole system page."""

    services: tuple[ServiceRow, ...]
    circuits: tuple[CircuitRow, ...]
    lags: tuple[LagRow, ...]
    dead_lettered: str  # events sent to the dead letters since the processes started
    window: str  # over what span the rates are
    updated: str
    ready: int
    total: int


def _outbox(reading: InstanceReading) -> str:
    sample = reading.latest
    if sample is None or sample.outbox_backlog is None:
        return "none" if sample is not None else UNKNOWN
    backlog = int(sample.outbox_backlog)
    if backlog == 0:
        return "0 waiting"
    age = f", oldest {sample.outbox_age:.0f} s" if sample.outbox_age else ""
    more = " or more" if backlog >= BACKLOG_COUNTED else ""  # the count stops there
    return f"{backlog}{more} waiting{age}"


def _lag(reading: InstanceReading) -> str:
    sample = reading.latest
    if sample is None:
        return UNKNOWN
    if not sample.lag:
        return "none"
    return ", ".join(f"{consumer}: {int(value)}" for consumer, value in sorted(sample.lag.items()))


def _instance_row(reading: InstanceReading) -> InstanceRow:
    change = reading.change
    return InstanceRow(
        instance=reading.target.instance,
        health=reading.health.state,
        health_ok=reading.health.ok,
        health_detail=reading.health.detail,
        rate=figure_rate(change),
        errors=figure_percent(change),
        p99=figure_ms(change),
        outbox=_outbox(reading),
        lag=_lag(reading),
    )


def _service_rows(readings: Sequence[InstanceReading]) -> tuple[ServiceRow, ...]:
    names: list[str] = []
    for reading in readings:
        if reading.target.service not in names:
            names.append(reading.target.service)
    rows = []
    for name in names:
        mine = [r for r in readings if r.target.service == name]
        ready = sum(r.health.ok for r in mine)
        merged = merge_changes(r.change for r in mine if r.change is not None)
        rows.append(
            ServiceRow(
                name=name,
                health=f"{ready} of {len(mine)} ready",
                healthy=ready == len(mine),
                rate=figure_rate(merged),
                errors=figure_percent(merged),
                p99=figure_ms(merged),
                instances=tuple(_instance_row(r) for r in mine),
            )
        )
    return tuple(rows)


def _circuits(readings: Iterable[InstanceReading]) -> tuple[CircuitRow, ...]:
    rows = []
    for reading in readings:
        if reading.latest is None:
            continue
        for target, state in sorted(reading.latest.circuits.items()):
            if state != 0:
                rows.append(
                    CircuitRow(reading.target.instance, target, CIRCUIT_STATES.get(state, "?"))
                )
    return tuple(rows)


def _lags(readings: Iterable[InstanceReading]) -> tuple[LagRow, ...]:
    return tuple(
        LagRow(r.target.instance, consumer, f"{int(value)} waiting")
        for r in readings
        if r.latest is not None
        for consumer, value in sorted(r.latest.lag.items())
    )


def _window(readings: Sequence[InstanceReading]) -> str:
    spans = [r.change.seconds for r in readings if r.change is not None]
    if not spans:
        return "Rates appear from the next refresh (they need two samples)."
    seconds = max(spans)
    span = f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"
    return f"Rates over the last {span}."


def system_view(reading: Reading) -> SystemView:
    """The system page of one `reading`."""
    readings = reading.instances
    dead = [r.latest.dead_letters for r in readings if r.latest and r.latest.dead_letters]
    updated = datetime.fromtimestamp(reading.at, UTC).strftime("%H:%M:%S UTC")
    return SystemView(
        services=_service_rows(readings),
        circuits=_circuits(readings),
        lags=_lags(readings),
        dead_lettered=f"{int(sum(dead))}",
        window=_window(readings),
        updated=updated,
        ready=sum(r.health.ok for r in readings),
        total=len(readings),
    )
