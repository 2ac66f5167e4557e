"""Run the reference workload and print a table: `python -m bench [--seconds N]`.

Starts Mercato with `mercato up` (embedded NATS, SQLite) on free ports, and the
naive baseline beside it, then measures at 16 concurrent connections (with the CPU
every process spends per request for the three `users/me` runs):
an authenticated `GET /api/users/me` (through the gateway, direct to the users
service, and through the naive design), a public product read (gateway and
direct) and a search; latency at a fixed rate below saturation; each process's
resident memory; then login at 2 connections (the gateway's bound of logins under
way per address; last, as auth goes on hashing the logins wrk gave up on); and the
start-up time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import urllib.request
from typing import Any

from bench.load import Request, Result, closed_loop, fixed_rate
from bench.system import (
    cpu_seconds,
    free_base_port,
    mariadb_databases,
    naive_system,
    postgres_databases,
    rss_mb,
    start_mercato,
)


def _call(method: str, url: str, body: dict[str, Any] | None = None, token: str = "") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _row(name: str, result: Result) -> str:
    return (
        f"| {name:<44} | {result.rps:>9.0f} | {result.p50_ms:>8.1f} | {result.p99_ms:>8.1f} "
        f"| {result.errors:>6} | {result.tool:<17} |"
    )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--connections", type=int, default=16)
    server = parser.add_mutually_exclusive_group()
    server.add_argument(
        "--postgres",
        metavar="USER@HOST:PORT",
        help="every service's database on this PostgreSQL server, e.g. postgres@127.0.0.1:5432",
    )
    server.add_argument(
        "--mysql",
        metavar="USER[:PASSWORD]@HOST:PORT",
        help="every service's database on this MySQL/MariaDB server, e.g. root@127.0.0.1:3306",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        databases: dict[str, str] = {}
        database = "SQLite"
        if args.postgres:
            databases = stack.enter_context(postgres_databases(args.postgres))
            database = "PostgreSQL"
        elif args.mysql:
            databases = stack.enter_context(mariadb_databases(args.mysql))
            database = "MariaDB"
        measure(args.connections, args.seconds, databases, database)


def measure(n: int, secs: float, databases: dict[str, str], database: str) -> None:
    """Start the system on `databases` and print the figures."""
    # The benchmark is one client: lift the gateway's per-client limits out of the way.
    env = {
        "MERCATO_GATEWAY_CLIENT_RATE": "0",
        "MERCATO_GATEWAY_USER_RATE": "0",
        "MERCATO_AUTH_LOGIN_MAX_FAILURES_PER_CLIENT": "1000000",
        **databases,
    }
    with start_mercato(env) as system:
        gw = system.gateway
        email = f"bench-{secrets.token_hex(4)}@example.com"
        password = "bench-" + secrets.token_hex(8)
        _call(
            "POST",
            f"{gw}/api/auth/register",
            {"email": email, "password": password, "name": "Bench"},
        )
        token = _call("POST", f"{gw}/api/auth/login", {"email": email, "password": password})[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        product = _call("GET", f"{gw}/api/catalog/products?limit=1")["items"][0]["id"]
        login_body = json.dumps({"email": email, "password": password}).encode()
        json_headers = {"Content-Type": "application/json"}

        rows: list[tuple[str, Result]] = []
        # CPU per request in each process that serves it: where the time goes, and a
        # ratio between designs that moves less than req/s on a shared, noisy machine.
        cpu_rows: list[tuple[str, dict[str, float]]] = []

        def run(
            name: str,
            request: Request,
            cpu_of: dict[str, int] | None = None,
            timeout: float = 2.0,
            connections: int | None = None,
        ) -> Result:
            before = {proc: cpu_seconds(pid) for proc, pid in (cpu_of or {}).items()}
            result = closed_loop(
                request, connections=connections or n, seconds=secs, timeout=timeout
            )
            rows.append((name, result))
            print(_row(name, result), flush=True)
            if cpu_of and result.requests:
                used = {
                    proc: (cpu_seconds(pid) - before[proc]) * 1000 / result.requests
                    for proc, pid in cpu_of.items()
                }
                cpu_rows.append((name, used))
            return result

        pids = system.pids()

        print(
            f"# Mercato benchmark on {database}: {n} connections, {secs:.0f} s per run; "
            f"ready in {system.ready_seconds:.1f} s\n"
        )
        print("| scenario | req/s | p50 ms | p99 ms | errors | tool |")
        print("|---|---:|---:|---:|---:|---|")
        me_gw = run(
            "GET /api/users/me via gateway",
            Request("GET", f"{gw}/api/users/me", auth),
            {p: pids[p] for p in ("gateway-1", "users-1")},
        )
        me_direct = run(
            "GET /api/users/me direct to users",
            Request("GET", f"{system.direct('users')}/api/users/me", auth),
            {"users-1": pids["users-1"]},
        )
        with naive_system(system.direct("auth"), free_base_port() + 300) as naive:
            me_naive = run(
                "GET /api/users/me naive design",
                Request("GET", f"{naive.url}/api/users/me", auth),
                {**naive.pids, "auth-1": pids["auth-1"]},
            )
        run(
            "GET /api/catalog/products/{id} via gateway",
            Request("GET", f"{gw}/api/catalog/products/{product}", {}),
        )
        run(
            "GET /api/catalog/products/{id} direct",
            Request("GET", f"{system.direct('catalog')}/api/catalog/products/{product}", {}),
        )
        run(
            "GET /api/catalog/products?q=laptop via gateway",
            Request("GET", f"{gw}/api/catalog/products?q=laptop", {}),
        )
        # A quarter of the closed-loop rate: this Python load generator costs about as
        # much CPU per request as the gateway, and shares the same two cores.
        rate = max(50.0, me_gw.rps * 0.25)
        fixed = fixed_rate(
            Request("GET", f"{gw}/api/users/me", auth), rate=rate, seconds=min(secs, 5)
        )
        print(_row(f"GET /api/users/me at fixed {rate:.0f} req/s", fixed))
        # Memory after the reads, before logins: argon2id takes 64 MiB for each hash in
        # flight, which auth holds for a while after a burst of logins.
        resident: dict[str, float | None] = {}
        for name, pid in system.pids().items():
            try:
                resident[name] = rss_mb(pid)
            except OSError:
                resident[name] = None
        # Last, as the logins still queued when wrk stops go on hashing for a while.
        # From one address the gateway lets 2 logins be under way at once (more are 429:
        # costly_per_client), which is as many as two cores hash at a time anyway
        # (argon2id's RFC 9106 parameters cost ~0.25 s of CPU each).
        run(
            "POST /api/auth/login via gateway, 2 connections",
            Request("POST", f"{gw}/api/auth/login", json_headers, login_body),
            timeout=10.0,
            connections=2,
        )

        print("\n| scenario | CPU ms per request, by process | total |\n|---|---|---:|")
        for name, used in cpu_rows:
            parts = ", ".join(f"{proc} {ms:.2f}" for proc, ms in used.items())
            print(f"| {name} | {parts} | {sum(used.values()):.2f} |")

        print("\n| ratio | value |\n|---|---:|")
        print(f"| gateway vs naive (users/me req/s) | {me_gw.rps / max(me_naive.rps, 1e-9):.1f}x |")
        print(
            f"| gateway vs direct (users/me req/s) | {me_gw.rps / max(me_direct.rps, 1e-9):.2f} |"
        )
        if len(cpu_rows) == 3:
            mercato_cpu, naive_cpu = sum(cpu_rows[0][1].values()), sum(cpu_rows[2][1].values())
            ratio = naive_cpu / mercato_cpu
            print(f"| naive vs gateway (users/me CPU per request) | {ratio:.1f}x |")

        print("\n| process | RSS MiB |\n|---|---:|")
        for name, mib in resident.items():
            print(f"| {name} | {'gone' if mib is None else f'{mib:.0f}'} |")


if __name__ == "__main__":
    main()
