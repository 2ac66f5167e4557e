"""The console's reading of Prometheus text, its rates and p99, and its monitor's sampling.

The expositions are those of the chassis' own metric classes (the names a process
really exposes), rendered by prometheus_client as `/metrics` renders them.
"""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from mercato.chassis.client.circuit import CircuitState
from mercato.chassis.events.sampling import BACKLOG_COUNTED
from mercato.chassis.telemetry.client_metrics import ClientMetrics
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics, OutboxMetrics, Outcome
from mercato.chassis.telemetry.http_metrics import HttpMetrics
from mercato.web.ops.metrics import Change, Sample, histogram_quantile, merge_changes, sample_of
from mercato.web.ops.monitor import Health, InstanceReading, Monitor, Reading, targets_of
from mercato.web.ops.system import system_view


def exposition(
    requests: list[tuple[int, float]],
    *,
    circuits: dict[str, CircuitState] | None = None,
    backlog: tuple[int, float] | None = None,
    lag: int | None = None,
    dead: int = 0,
) -> str:
    """What `/metrics` of a process shows after answering `requests` (status, seconds)."""
    http = HttpMetrics("catalog")
    for status, seconds in requests:
        http.observe("GET", "/api/catalog/products", status, seconds)
    registry = http.registry
    if circuits is not None:
        ClientMetrics("catalog", registry).watch(lambda: circuits)
    if backlog is not None:
        OutboxMetrics("catalog", registry).backlog(*backlog)
    consumer = ConsumerMetrics("catalog", registry)
    if lag is not None:
        consumer.lag("catalog", lag)
    for _ in range(dead):
        consumer.handled("product.created", Outcome.DEAD_LETTERED)
    return generate_latest(registry).decode()


def test_a_sample_reads_requests_errors_and_the_latency_buckets() -> None:
    text = exposition([(200, 0.004), (200, 0.02), (503, 0.3), (404, 0.001)])

    sample = sample_of(text, at=10.0)

    assert sample.requests == 4
    assert sample.errors == 1  # 5xx only: a 404 is the client's
    assert sample.buckets[math.inf] == 4
    assert sample.buckets[0.005] == 2  # 0.001 and 0.004
    assert sample.at == 10.0


def test_a_sample_reads_circuits_outbox_lag_and_dead_letters() -> None:
    circuits = {
        "payments@http://a": CircuitState.OPEN,
        "payments@http://b": CircuitState.OPEN,
        "users": CircuitState.CLOSED,
    }
    text = exposition([], circuits=circuits, backlog=(7, 42.0), lag=13, dead=2)

    sample = sample_of(text, at=0.0)

    assert sample.circuits == {"payments": 2, "users": 0}
    assert (sample.outbox_backlog, sample.outbox_age) == (7, 42.0)
    assert sample.lag == {"catalog": 13}
    assert sample.dead_letters == 2


def test_a_process_without_an_outbox_or_consumer_says_none() -> None:
    registry = CollectorRegistry()
    text = generate_latest(registry).decode()

    sample = sample_of(text, at=0.0)

    assert (sample.requests, sample.outbox_backlog, sample.lag, sample.dead_letters) == (
        0,
        None,
        {},
        None,
    )


def test_text_that_is_not_prometheus_is_refused() -> None:
    with pytest.raises(ValueError):
        sample_of('http_requests_total{status="200" 1\n', at=0.0)


def test_the_quantile_interpolates_in_its_bucket_as_prometheus_does() -> None:
    buckets = {0.1: 50.0, 0.2: 90.0, 0.5: 100.0, math.inf: 100.0}

    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.2 + 0.3 * 0.9)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)  # from 0 in the first


def test_a_quantile_beyond_the_last_bound_is_that_bound_and_none_without_data() -> None:
    assert histogram_quantile(0.99, {0.1: 1.0, 1.0: 1.0, math.inf: 10.0}) == 1.0
    assert histogram_quantile(0.99, {0.1: 0.0, math.inf: 0.0}) is None
    assert histogram_quantile(0.99, {}) is None


def test_a_change_gives_the_rate_error_ratio_and_p99_between_two_samples() -> None:
    old = sample_of(exposition([(200, 0.01)] * 10), at=100.0)
    new = sample_of(exposition([(200, 0.01)] * 30 + [(500, 2.0)] * 10), at=110.0)

    change = Change.between(old, new)

    assert change.rate == pytest.approx(3.0)  # 30 answers in 10 s
    assert change.error_ratio == pytest.approx(10 / 30)
    assert change.p99 is not None and 1.0 < change.p99 <= 2.5  # the slow ones dominate


def test_a_counter_that_went_down_is_a_restart_counted_from_zero() -> None:
    old = sample_of(exposition([(200, 0.01)] * 50), at=0.0)
    new = sample_of(exposition([(200, 0.01)] * 5), at=5.0)

    change = Change.between(old, new)

    assert change.requests == 5 and change.rate == pytest.approx(1.0)
    assert change.buckets[math.inf] == 5


def test_instances_merge_into_their_services_figures() -> None:
    first = Change(10.0, 100.0, 10.0, {0.1: 100.0, math.inf: 100.0})
    second = Change(5.0, 50.0, 0.0, {0.1: 40.0, math.inf: 50.0})

    merged = merge_changes([first, second])

    assert merged is not None
    assert merged.rate == pytest.approx(20.0)  # 10/s each
    assert merged.error_ratio == pytest.approx(10 / 200)
    assert merge_changes([]) is None


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_monitor_scrapes_every_target_and_rates_from_its_second_look() -> None:
    clock = FakeTime()
    answered: dict[str, int] = {"http://a": 0}

    async def fetch(url: str, timeout: float) -> tuple[int, bytes]:
        if url.startswith("http://down"):
            raise OSError("connection refused")
        if url.endswith("/health/ready"):
            return 200, b'{"status":"ok"}'
        answered["http://a"] += 20
        return 200, exposition([(200, 0.003)] * answered["http://a"]).encode()

    monitor = Monitor(
        targets_of([("catalog", ["http://a", "http://down"])]), fetch, min_interval=1.0, clock=clock
    )

    first = await monitor.reading()
    assert [r.target.instance for r in first.instances] == ["catalog-1", "catalog-2"]
    assert first.instances[0].health.ok and first.instances[0].change is None
    assert first.instances[1].health.state == "down" and first.instances[1].latest is None
    assert await monitor.reading() is first  # within min_interval: the same reading

    clock.now = 4.0
    second = await monitor.reading()
    change = second.instances[0].change
    assert change is not None and change.rate == pytest.approx(5.0)
    view = system_view(second)
    assert view.services[0].health == "1 of 2 ready" and not view.services[0].healthy
    assert view.services[0].rate == "5.0/s"
    assert view.window == "Rates over the last 4 seconds."


async def test_an_instance_that_is_not_ready_names_its_failing_checks() -> None:
    async def fetch(url: str, timeout: float) -> tuple[int, bytes]:
        if url.endswith("/health/ready"):
            return 503, b'{"status":"unavailable","checks":{"database":"ok","broker":"down"}}'
        return 500, b"oops"

    monitor = Monitor(targets_of([("logs", ["http://l"])]), fetch)

    reading = (await monitor.reading()).instances[0]

    assert (reading.health.state, reading.health.detail) == ("not ready", "broker: down")
    assert reading.latest is None


async def test_samples_older_than_the_window_are_dropped() -> None:
    clock = FakeTime()
    count = {"n": 0}

    async def fetch(url: str, timeout: float) -> tuple[int, bytes]:
        if url.endswith("/health/ready"):
            return 200, b"{}"
        count["n"] += 1
        return 200, exposition([(200, 0.001)] * count["n"]).encode()

    monitor = Monitor(
        targets_of([("users", ["http://u"])]), fetch, window=60.0, min_interval=0.0, clock=clock
    )
    for now in (0.0, 30.0, 90.0, 100.0):
        clock.now = now
        reading = await monitor.reading()

    change = reading.instances[0].change
    # At 100 s the minute goes back to 40 s: the samples of 0 s and 30 s are gone.
    assert change is not None and change.seconds == pytest.approx(10.0)
    assert change.requests == 1


@pytest.mark.parametrize(
    ("backlog", "shown"),
    [
        ((0, 0.0), "0 waiting"),
        ((7, 42.0), "7 waiting, oldest 42 s"),
        ((BACKLOG_COUNTED, 3600.0), f"{BACKLOG_COUNTED} or more waiting, oldest 3600 s"),
    ],
)
def test_the_outbox_column_says_when_the_backlog_is_beyond_its_count(
    backlog: tuple[int, float], shown: str
) -> None:
    sample = sample_of(exposition([], backlog=backlog), at=0.0)
    target = targets_of([("catalog", ["http://c"])])[0]
    reading = Reading((InstanceReading(target, Health("ready"), sample, None),), at=0.0)
    assert system_view(reading).services[0].instances[0].outbox == shown


def test_the_system_view_lists_open_circuits_lags_and_dead_letters() -> None:
    sample = sample_of(
        exposition([], circuits={"payments": CircuitState.OPEN}, lag=3, dead=4), at=0.0
    )
    target = targets_of([("orders", ["http://o"])])[0]
    reading = Reading((InstanceReading(target, Health("ready"), sample, None),), at=0.0)

    view = system_view(reading)

    assert [(c.instance, c.target, c.state) for c in view.circuits] == [
        ("orders-1", "payments", "open")
    ]
    assert [(lag.consumer, lag.lag) for lag in view.lags] == [("catalog", "3 waiting")]
    assert view.dead_lettered == "4"
    assert view.services[0].instances[0].rate == "no data"
    assert isinstance(sample, Sample)
