"""What tracing costs: `python -m bench.tracing [--seconds N] [--rounds R]`.

Starts Mercato with `mercato up` (SQLite, the embedded NATS) three times side by side:
tracing off (no OTLP endpoint), on with 10% of new traces sampled
(`parentbased_traceidratio`, 0.1), and on with every trace sampled (the SDK's default),
each traced system exporting its spans over OTLP/HTTP to a receiver of its own on this
machine (in this process, counting what it gets; batches a second apart). Then, R
rounds, it loads each system in turn with an authenticated `GET /api/users/me` through
the gateway at 16 connections for N seconds, the other two idle: req/s, p50/p99, the
CPU the gateway and users spend per request (their exporting threads included), the
receivers' CPU per request and the spans received per request. The medians of the
rounds are printed last, each mode's req/s and CPU against tracing off as the median
of the rounds' ratios.

The read is the cheapest request the shop serves (~0.3 ms of CPU in all on a busy
machine), so tracing's share of it is the largest any request pays. Runs interleaved
on systems that are all up compare the modes under the same load of a shared machine,
whose speed drifts from minute to minute.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import statistics
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench.load import Request, closed_loop
from bench.system import Mercato, cpu_seconds, start_mercato
from tests.support.otlp import OtlpReceiver

__all__ = ["main"]

CONNECTIONS = 16
SERVING = ("gateway-1", "users-1")  # the processes a read goes through
# The benchmark is one client: the gateway's per-client limits are lifted.
UNLIMITED = {"MERCATO_GATEWAY_CLIENT_RATE": "0", "MERCATO_GATEWAY_USER_RATE": "0"}
# Spans leave a second after they end (5 s by default), so a run's are counted after it.
EXPORT_DELAY_MS = 1000
MODES = {
    "off": {},
    "10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "100%": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}


@dataclass(frozen=True)
class Run:
    """The figures of one run on one system."""

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


@dataclass(frozen=True)
class Target:
    """One system under test: its mode, its read, its processes and its receiver."""

    mode: str
    system: Mercato
    read: Request
    pids: dict[str, int]
    receiver: OtlpReceiver | None


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


def _start(mode: str, stack: contextlib.ExitStack) -> Target:
    env = {**UNLIMITED, **MODES[mode]}
    receiver = None
    if mode != "off":
        receiver = stack.enter_context(OtlpReceiver(decode=False))
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
        env["OTEL_BSP_SCHEDULE_DELAY"] = str(EXPORT_DELAY_MS)
    system = stack.enter_context(start_mercato(env, settle=5.0))
    token = _token(system.gateway)
    read = Request("GET", f"{system.gateway}/api/users/me", {"Authorization": f"Bearer {token}"})
    pids = {name: pid for name, pid in system.pids().items() if name in SERVING}
    return Target(mode, system, read, pids, receiver)


def measure(target: Target, seconds: float) -> Run:
    """Load `target` for `seconds` and take its figures."""
    before = {name: cpu_seconds(pid) for name, pid in target.pids.items()}
    receiver = target.receiver
    spans_before = receiver.span_count() if receiver else 0
    receiver_before = receiver.cpu_seconds() if receiver else 0.0
    result = closed_loop(target.read, connections=CONNECTIONS, seconds=seconds)
    used = {name: cpu_seconds(pid) - before[name] for name, pid in target.pids.items()}
    if receiver is not None:
        time.sleep(EXPORT_DELAY_MS / 1000 + 0.5)  # the run's last batch
    spans = (receiver.span_count() - spans_before) if receiver else 0
    receiver_used = (receiver.cpu_seconds() - receiver_before) if receiver else 0.0
    n = max(result.requests, 1)
    return Run(
        target.mode,
        result.rps,
        result.p50_ms,
        result.p99_ms,
        result.errors,
        {name: cpu * 1000 / n for name, cpu in used.items()},
        receiver_used * 1000 / n,
        spans / n,
    )


HEADER = (
    "| tracing | req/s | vs off | p50 / p99 ms | CPU ms per request, gateway + users "
    "| CPU vs off | receiver CPU ms | spans per request | errors |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _ratios(run: Run, off: Run) -> tuple[float, float]:
    """`run`'s req/s and CPU per request against `off`'s."""
    return run.rps / off.rps, run.total_cpu_ms / off.total_cpu_ms


def _row(run: Run, ratios: tuple[float, float]) -> str:
    cpu = " + ".join(f"{ms:.3f}" for ms in run.cpu_ms.values())
    return (
        f"| {run.mode} | {run.rps:.0f} | {ratios[0]:.2f} "
        f"| {run.p50_ms:.1f} / {run.p99_ms:.1f} | {cpu} = {run.total_cpu_ms:.3f} "
        f"| {ratios[1]:.2f} | {run.receiver_ms:.3f} | {run.spans:.2f} | {run.errors} |"
    )


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


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.tracing")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each mode, in turn")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        targets = [_start(mode, stack) for mode in MODES]
        for target in targets:  # warm up, then let the warm-up's spans leave
            closed_loop(target.read, connections=CONNECTIONS, seconds=2.0)
        time.sleep(EXPORT_DELAY_MS / 1000 + 0.5)
        print(
            f"# GET /api/users/me via the gateway, {CONNECTIONS} connections, "
            f"{args.seconds:g} s per run, {args.rounds} rounds\n"
        )
        print(HEADER, flush=True)
        runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
        for _ in range(args.rounds):
            for target in targets:
                run = measure(target, args.seconds)
                runs[target.mode].append(run)
                print(_row(run, _ratios(run, runs["off"][-1])), flush=True)
    # Against off, the median of each round's ratio: a round's runs are a minute apart.
    print(f"\nMedians of the {args.rounds} rounds (against off: of each round's ratio):\n")
    print(HEADER)
    for mode, found in runs.items():
        ratios = [_ratios(run, off) for run, off in zip(found, runs["off"], strict=True)]
        middle = (statistics.median(r[0] for r in ratios), statistics.median(r[1] for r in ratios))
        print(_row(_median(mode, found), middle))


if __name__ == "__main__":
    main()
