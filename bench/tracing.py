"""What tracing costs: `python -m bench.tracing [--seconds N] [--rounds R]`.

Starts Mercato with `mercato up` (SQLite, the embedded NATS) three times, one after the
other: tracing off (no OTLP endpoint), then on with 10% of new traces sampled
(`parentbased_traceidratio`, 0.1) and with every trace sampled (the SDK's default),
each process exporting its spans over OTLP/HTTP to a receiver on this machine (in
this process, counting what it gets). In each, after a warm-up, it measures an
authenticated `GET /api/users/me` through the gateway at 16 connections: req/s,
p50/p99, the CPU the gateway and users spend per request (their exporting threads
included), the receiver's CPU per request and the spans received per request. The
read is the cheapest request the shop serves (~0.2 ms of CPU in all), so tracing's
share of it is the largest any request pays.

With `--rounds R` the three systems are measured R times, in turn, and the median of
each is printed last: on a shared machine whose speed drifts, rounds interleaved
are the fairer comparison.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench.load import Request, closed_loop
from bench.system import cpu_seconds, start_mercato
from tests.support.otlp import OtlpReceiver

__all__ = ["main"]

CONNECTIONS = 16
WARM_UP_SECONDS = 3.0
# The benchmark is one client: the gateway's per-client limits are lifted.
UNLIMITED = {"MERCATO_GATEWAY_CLIENT_RATE": "0", "MERCATO_GATEWAY_USER_RATE": "0"}
MODES = {
    "off": {},
    "10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "100%": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}


@dataclass(frozen=True)
class Run:
    """The figures of one system measured."""

    mode: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: dict[str, float]  # per request, by process
    receiver_ms: float  # the receiver's CPU per request
    spans: float  # spans received per request

    @property
    def total_cpu_ms(self) -> float:
        """CPU per request in the gateway and users together."""
        return sum(self.cpu_ms.values())


def _call(method: str, url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _token(gateway: str) -> str:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    password = "bench-" + secrets.token_hex(8)
    account = {"email": email, "password": password, "name": "Bench"}
    _call("POST", f"{gateway}/api/auth/register", account)
    answer = _call("POST", f"{gateway}/api/auth/login", {"email": email, "password": password})
    return str(answer["access_token"])


def measure(mode: str, receiver: OtlpReceiver, seconds: float) -> Run:
    """Start the system with tracing as `mode` says, and measure it."""
    env = {**UNLIMITED, **MODES[mode]}
    if mode != "off":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    with start_mercato(env) as system:
        gateway = system.gateway
        auth = {"Authorization": f"Bearer {_token(gateway)}"}
        read = Request("GET", f"{gateway}/api/users/me", auth)
        closed_loop(read, connections=CONNECTIONS, seconds=WARM_UP_SECONDS)
        time.sleep(1.0)  # the warm-up's last spans leave
        pids = {name: pid for name, pid in system.pids().items() if name in ("gateway-1", "users-1")}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        spans_before, receiver_before = receiver.span_count(), time.process_time()
        result = closed_loop(read, connections=CONNECTIONS, seconds=seconds)
        used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        time.sleep(1.0)  # the last batch is sent ~0.1-5 s after its spans end
        spans = receiver.span_count() - spans_before
        receiver_cpu = time.process_time() - receiver_before
    n = max(result.requests, 1)
    return Run(
        mode,
        result.rps,
        result.p50_ms,
        result.p99_ms,
        result.errors,
        {name: cpu * 1000 / n for name, cpu in used.items()},
        receiver_cpu * 1000 / n,
        spans / n,
    )


def _row(run: Run, off: Run | None) -> str:
    ratio = f"{run.rps / off.rps:.2f}" if off is not None and off.rps else "-"
    cpu = " + ".join(f"{ms:.3f}" for ms in run.cpu_ms.values())
    return (
        f"| {run.mode:<5} | {run.rps:>7.0f} | {ratio:>5} | {run.p50_ms:>5.1f} / {run.p99_ms:<5.1f} "
        f"| {cpu} = {run.total_cpu_ms:.3f} | {run.receiver_ms:.3f} | {run.spans:.2f} "
        f"| {run.errors} |"
    )


HEADER = (
    "| tracing | req/s | vs off | p50 / p99 ms | CPU ms per request, gateway + users "
    "| receiver CPU ms | spans per request | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.tracing")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=1, help="times each mode is measured")
    args = parser.parse_args()
    print(
        f"# GET /api/users/me via the gateway, {CONNECTIONS} connections, "
        f"{args.seconds:.0f} s per run, {args.rounds} round(s)\n"
    )
    print(HEADER, flush=True)
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    with OtlpReceiver(decode=False) as receiver:
        for _ in range(args.rounds):
            for mode in MODES:
                run = measure(mode, receiver, args.seconds)
                runs[mode].append(run)
                print(_row(run, runs["off"][-1] if runs["off"] else None), flush=True)
    if args.rounds > 1:
        print("\nMedians of the rounds:\n")
        print(HEADER)
        medians = {mode: _median(mode, found) for mode, found in runs.items()}
        for run in medians.values():
            print(_row(run, medians["off"]))


def _median(mode: str, runs: list[Run]) -> Run:
    def of(values: list[float]) -> float:
        return statistics.median(values)

    return Run(
        mode,
        of([r.rps for r in runs]),
        of([r.p50_ms for r in runs]),
        of([r.p99_ms for r in runs]),
        sum(r.errors for r in runs),
        {name: of([r.cpu_ms[name] for r in runs]) for name in runs[0].cpu_ms},
        of([r.receiver_ms for r in runs]),
        of([r.spans for r in runs]),
    )


if __name__ == "__main__":
    main()
