"""The edge under attack: is a legitimate client still served, and at what latency?

`python -m bench.edge [--seconds 8]` starts `mercato up` and measures a customer's
latency through the gateway (a product read at a fixed rate, counted from each
request's due time, and logins one after another) alone, then while an attacker on
another loopback address runs each attack for the whole measurement:

- slowloris: 400 connections that send half a request head and trickle a byte a
  second, reopened as soon as the gateway cuts them;
- header flood: 8 connections at a time each sending a 32 MiB header, again and again;
- login flood: 24 correct logins at a time from one address, again and again.

It prints the customer's p50/p99 and errors per scenario, what the attacker's
connections got, and the gateway's peak resident memory (VmHWM). The attackers run
in processes of their own, so that they do not share this process's interpreter with
the measurement. Figures are only comparable within one run (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from bench.load import Request, fixed_rate
from bench.system import Mercato, start_mercato

ADMIN = ("admin@bench.example", "Bench-Admin-Passw0rd!")
CUSTOMER_PASSWORD = "Correct-Horse-42"
ATTACKER = "127.0.0.66"


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(ATTACKER, 0))


def _slowloris(port: int, stop: float, outcomes: dict[str, int]) -> None:
    wires: list[socket.socket] = []
    while time.monotonic() < stop:
        while len(wires) < 400:
            try:
                wire = _connect(port)
                wire.sendall(b"GET /api/catalog/products HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                wire.setblocking(False)
                wires.append(wire)
            except OSError:
                outcomes["refused at connect"] = outcomes.get("refused at connect", 0) + 1
                break
        alive = []
        for wire in wires:
            try:
                wire.send(b"a")
                data = wire.recv(64)
            except BlockingIOError:
                alive.append(wire)
                continue
            except OSError:
                data = b""
            status = data[9:12].decode() if data.startswith(b"HTTP/1.1") else "closed"
            outcomes[status] = outcomes.get(status, 0) + 1
            wire.close()
        wires = alive
        time.sleep(1.0)
    for wire in wires:
        wire.close()


def _header_flood(port: int, stop: float, outcomes: dict[str, int]) -> None:
    huge = b"GET /api/catalog/products HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (32 << 20)

    def one() -> None:
        try:
            wire = _connect(port)
            wire.sendall(huge)
            data = wire.recv(64)
        except OSError:
            data = b""
        status = data[9:12].decode() if data.startswith(b"HTTP/1.1") else "reset"
        outcomes[status] = outcomes.get(status, 0) + 1

    while time.monotonic() < stop:
        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _login_flood(port: int, stop: float, outcomes: dict[str, int], email: str) -> None:
    import concurrent.futures  # noqa: PLC0415

    body = json.dumps({"email": email, "password": CUSTOMER_PASSWORD}).encode()
    request = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )

    def one() -> str:
        try:
            wire = _connect(port)
            wire.settimeout(30)
            wire.sendall(request)
            data = wire.recv(64)
            wire.close()
        except OSError:
            return "error"
        return data[9:12].decode() if data.startswith(b"HTTP/1.1") else "closed"

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        while time.monotonic() < stop:
            for status in pool.map(lambda _: one(), range(24)):
                outcomes[status] = outcomes.get(status, 0) + 1


def _attacker(name: str, port: int, seconds: float, email: str, queue: Any) -> None:
    outcomes: dict[str, int] = {}
    stop = time.monotonic() + seconds
    if name == "slowloris":
        _slowloris(port, stop, outcomes)
    elif name == "header flood":
        _header_flood(port, stop, outcomes)
    elif name == "login flood":
        _login_flood(port, stop, outcomes, email)
    queue.put(outcomes)


def _logins(system: Mercato, email: str, seconds: float) -> list[float]:
    took: list[float] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        began = time.perf_counter()
        status, _ = _post(
            f"{system.gateway}/api/auth/login", {"email": email, "password": CUSTOMER_PASSWORD}
        )
        took.append(time.perf_counter() - began if status == 200 else float("inf"))
    return took


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    value = ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return "failed" if value == float("inf") else f"{value * 1000:.0f}"


def _scenario(
    system: Mercato, attack: str | None, seconds: float, email: str, product: str
) -> dict[str, Any]:
    gateway = system.pids()["gateway-1"]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    attacker = None
    if attack is not None:
        attacker = context.Process(
            target=_attacker, args=(attack, system.port, seconds * 2 + 4, email, queue)
        )
        attacker.start()
        time.sleep(2.0)  # the attack is under way before the customer comes
    read = fixed_rate(
        Request("GET", f"{system.gateway}/api/catalog/products/{product}", {}),
        rate=50,
        seconds=seconds,
        connections=4,
    )
    logins = _logins(system, email, seconds)
    outcomes: dict[str, int] = {}
    if attacker is not None:
        attacker.join()
        outcomes = queue.get()
    return {
        "scenario": attack or "no attack",
        "read": read,
        "logins": logins,
        "outcomes": outcomes,
        "peak": _peak_mib(gateway),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    env = {"MERCATO_ADMIN_EMAIL": ADMIN[0], "MERCATO_ADMIN_PASSWORD": ADMIN[1]}
    with start_mercato(env) as system:
        email = f"edge-{int(time.time())}@bench.example"
        _post(
            f"{system.gateway}/api/auth/register",
            {"email": email, "password": CUSTOMER_PASSWORD, "name": "Ada"},
        )
        with urllib.request.urlopen(f"{system.gateway}/api/catalog/products?limit=1") as answer:
            product = json.loads(answer.read())["items"][0]["id"]
        rows = [
            _scenario(system, attack, args.seconds, email, product)
            for attack in (None, "slowloris", "header flood", "login flood")
        ]
    print(f"\nA customer on 127.0.0.1, an attacker on {ATTACKER} ({args.seconds:g} s each)\n")
    print(
        "| scenario | product read p50 / p99 ms (errors) | login p50 / p99 ms "
        "| gateway peak MiB | the attacker got |"
    )
    print("|---|---:|---:|---:|---|")
    for row in rows:
        read = row["read"]
        got = ", ".join(f"{k}: {v}" for k, v in Counter(row["outcomes"]).most_common()) or "-"
        print(
            f"| {row['scenario']} | {read.p50_ms:.1f} / {read.p99_ms:.1f} ({read.errors}) "
            f"| {_ms(row['logins'], 0.5)} / {_ms(row['logins'], 0.99)} "
            f"| {row['peak']:.0f} | {got} |"
        )


if __name__ == "__main__":
    main()
