"""The checkout benchmark: `python -m bench.checkout [--seconds N] [--postgres|--mysql S]`.

Starts Mercato with `mercato up` (SQLite, or a fresh PostgreSQL database per service
with `--postgres`, or a MySQL/MariaDB one with `--mysql`; the embedded NATS, or
RabbitMQ with `--broker amqp`, in a bus namespace of the run's own that is deleted
afterwards), prepares 16 customers with a
card and restocks one product per customer, then runs 16 concurrent customers for N
seconds, each in a loop: put one unit in the cart, `POST /api/orders` with a fresh
`Idempotency-Key`, and wait for the order's end state (polling `GET
/api/orders/{id}` when the answer was not one yet). Prints checkouts/s, p50/p99 of
the checkout latency (from sending the POST to seeing the end state) and how many
orders ended in each state.

Then, for about 20 orders spread over the run, how long `order.placed` took to
reach the audit log: a tracker polls `GET /api/logs/events` (as the admin, every
50 ms, from the moment the POST is sent) and the delay is the time it first saw the
event minus the order's `created_at` (the client and the services share the host's
clock); the log's own `recorded_at - created_at` is shown beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bench.shop import Checkout, Customer, Shop, ShopError
from bench.system import (
    Mercato,
    cpu_seconds,
    mariadb_databases,
    postgres_databases,
    start_mercato,
)
from mercato.chassis.events.admin import delete_rabbit_namespace
from mercato.launcher.topology import SERVICES

__all__ = ["main", "percentile_ms"]

CUSTOMERS = 16
AUDIT_SAMPLES = 20
AUDIT_POLL = 0.05
AUDIT_TIMEOUT = 30.0
STOCK_DELTA = 100_000
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def percentile_ms(samples: list[float], q: float) -> float:
    """The `q` quantile of `samples` (seconds) in milliseconds; NaN when there are none."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class AuditSample:
    """One order whose `order.placed` is being looked for in the audit log."""

    tracker: asyncio.Task[tuple[datetime, Any] | None]
    checkout: Checkout | None = None


@dataclass
class Run:
    """What the customer loops gathered."""

    checkouts: list[Checkout] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[AuditSample] = field(default_factory=list)
    seconds: float = 0.0
    audit_polls: int = 0
    cpu: dict[str, float] = field(default_factory=dict)


async def _track_placed(
    shop: Shop, admin: str, user_id: str, since: datetime, run: Run
) -> tuple[datetime, Any] | None:
    """Poll the audit log for the customer's `order.placed` since `since`.

    Answers when it was first seen (wall clock) and the entry, or None at the timeout.
    """
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # no '+' to survive query encoding
    deadline = time.monotonic() + AUDIT_TIMEOUT
    while time.monotonic() < deadline:
        run.audit_polls += 1
        with contextlib.suppress(ShopError, aiohttp.ClientError, TimeoutError):
            items = await shop.audit_events(
                admin, user_id=user_id, type="order.placed", since=stamp
            )
            if items:
                return datetime.now(UTC), items[0]
        await asyncio.sleep(AUDIT_POLL)
    return None


async def _customer_loop(
    shop: Shop,
    *,
    customer: Customer,
    product_id: str,
    admin: str,
    run: Run,
    deadline: float,
    sampling: list[float],
    extras: dict[str, str],
) -> None:
    """Check out again and again until `deadline`; sample an order when one is due."""
    while time.perf_counter() < deadline:
        sample: AuditSample | None = None

        def sent() -> None:
            nonlocal sample
            now = time.perf_counter()
            if sampling and now >= sampling[0]:
                sampling.pop(0)
                since = datetime.now(UTC)
                sample = AuditSample(
                    asyncio.create_task(_track_placed(shop, admin, customer.user_id, since, run))
                )
                run.samples.append(sample)

        try:
            done = await shop.checkout(customer, product_id, on_sent=sent, extras=extras)
        except (ShopError, aiohttp.ClientError, TimeoutError) as exc:
            run.errors[type(exc).__name__ + ": " + str(exc)[:120]] += 1
            if sample is not None:
                sample.tracker.cancel()
                run.samples.remove(sample)
            await asyncio.sleep(0.1)  # an error is not a reason to spin
            continue
        run.checkouts.append(done)
        if sample is not None:
            sample.checkout = done


async def _prepare(shop: Shop, admin: str) -> tuple[list[Customer], list[str]]:
    customers = await asyncio.gather(*(shop.new_customer() for _ in range(CUSTOMERS)))
    products = await shop.product_ids(CUSTOMERS)
    if not products:
        raise RuntimeError("the catalog has no products")
    for product in products:
        await shop.restock(admin, product, STOCK_DELTA)
    return list(customers), [products[i % len(products)] for i in range(CUSTOMERS)]


async def _extras(shop: Shop, admin: str, *, after_sale: bool) -> dict[str, str]:
    """The order's extra fields: express delivery and a 10 % code made now, or none
    (the cheapest delivery is then charged)."""
    if not after_sale:
        return {}
    code = "BENCH" + secrets.token_hex(4).upper()
    body = {"code": code, "kind": "percent", "value": 10}
    await shop.call("POST", "/api/orders/discounts", expect=201, token=admin, json=body)
    return {"shipping_method": "express", "discount_code": code}


async def measure(
    system: Mercato, admin_email: str, admin_password: str, seconds: float, *, after_sale: bool
) -> Run:
    """Prepare the customers, run the loops for `seconds`, then wait for the trackers."""
    connector = aiohttp.TCPConnector(limit=4 * CUSTOMERS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        shop = Shop(session, system.gateway)
        admin = await shop.login(admin_email, admin_password)
        customers, products = await _prepare(shop, admin)
        extras = await _extras(shop, admin, after_sale=after_sale)
        run = Run()
        cpu_before = {name: cpu_seconds(pid) for name, pid in system.pids().items()}
        started = time.perf_counter()
        deadline = started + seconds
        # Sample times spread over the run, the first after half a second.
        step = max(seconds - 0.5, 0.1) / AUDIT_SAMPLES
        sampling = [started + 0.5 + i * step for i in range(AUDIT_SAMPLES)]
        loops = [
            _customer_loop(
                shop,
                customer=c,
                product_id=p,
                admin=admin,
                run=run,
                deadline=deadline,
                sampling=sampling,
                extras=extras,
            )
            for c, p in zip(customers, products, strict=True)
        ]
        try:
            await asyncio.gather(*loops)
            run.seconds = time.perf_counter() - started
            run.cpu = {
                name: cpu_seconds(pid) - cpu_before.get(name, 0.0)
                for name, pid in system.pids().items()
            }
            await asyncio.gather(*(s.tracker for s in run.samples), return_exceptions=True)
        finally:
            for sample in run.samples:
                sample.tracker.cancel()
        return run


def report(run: Run, title: str) -> None:
    """Print the run's tables."""
    latencies = [c.seconds for c in run.checkouts]
    rate = len(run.checkouts) / run.seconds if run.seconds else 0.0
    print(title + "\n")
    print("| measure | value |\n|---|---:|")
    print(f"| checkouts (answered, terminal) | {len(run.checkouts)} |")
    print(f"| checkouts/s | {rate:.1f} |")
    print(f"| checkout p50 ms (POST to terminal) | {percentile_ms(latencies, 0.5):.0f} |")
    print(f"| checkout p99 ms (POST to terminal) | {percentile_ms(latencies, 0.99):.0f} |")
    print(f"| errors | {sum(run.errors.values())} |")
    at_once = sum(1 for c in run.checkouts if c.polls == 0)
    print(f"| end state in the POST's answer | {at_once} |")
    print(f"| GET /api/orders/{{id}} polls (every 20 ms) | {sum(c.polls for c in run.checkouts)} |")
    print(f"| audit log polls (every {AUDIT_POLL * 1000:.0f} ms) | {run.audit_polls} |")

    print("\n| terminal status | orders |\n|---|---:|")
    for status, count in sorted(Counter(c.status for c in run.checkouts).items()):
        print(f"| {status} | {count} |")
    if run.errors:
        print("\n| error | count |\n|---|---:|")
        for error, count in run.errors.most_common(10):
            print(f"| {error.replace('|', '/')} | {count} |")

    if run.checkouts and run.cpu:
        # Where a checkout's work is done: CPU per checkout in each process.
        print("\n| process | CPU ms per checkout |\n|---|---:|")
        for name, used in sorted(run.cpu.items(), key=lambda item: -item[1]):
            print(f"| {name} | {used * 1000 / len(run.checkouts):.1f} |")

    seen: list[float] = []
    recorded: list[float] = []
    missing = 0
    for sample in run.samples:
        found = None
        if sample.tracker.done() and not sample.tracker.cancelled():
            found = sample.tracker.result()
        if found is None or sample.checkout is None:
            missing += 1
            continue
        first_seen, entry = found
        created = _utc(sample.checkout.created_at)
        seen.append((first_seen - created).total_seconds())
        recorded.append((_utc(entry["recorded_at"]) - created).total_seconds())
    print(
        f"\n| order.placed to the audit log ({len(seen)} orders, {missing} not seen) "
        "| p50 ms | p99 ms |\n|---|---:|---:|"
    )
    print(
        f"| first seen by the client (poll every {AUDIT_POLL * 1000:.0f} ms) - created_at "
        f"| {percentile_ms(seen, 0.5):.0f} | {percentile_ms(seen, 0.99):.0f} |"
    )
    print(
        f"| recorded_at - created_at (the log's own stamp) "
        f"| {percentile_ms(recorded, 0.5):.0f} | {percentile_ms(recorded, 0.99):.0f} |"
    )


@contextlib.contextmanager
def rabbit_namespace(url: str) -> Iterator[dict[str, str]]:
    """Variables that put the system on RabbitMQ in a fresh namespace, deleted at the end.

    Queues left by an earlier run would otherwise hand their old events to this one.
    """
    namespace = f"bench_{secrets.token_hex(6)}"
    try:
        yield {"MERCATO_BROKER_URL": url, "MERCATO_BUS_NAMESPACE": namespace}
    finally:
        consumers = [svc.name for svc in SERVICES if svc.broker]
        asyncio.run(delete_rabbit_namespace(url, namespace, consumers))


def main() -> None:
    """Parse the options, start the system, measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.checkout")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the run")
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
    parser.add_argument(
        "--broker",
        choices=("nats", "amqp"),
        default="nats",
        help="nats: the embedded NATS; amqp: RabbitMQ at " + RABBIT_URL,
    )
    parser.add_argument("--settle", type=float, default=15.0, help="seconds to wait after ready")
    parser.add_argument(
        "--after-sale",
        action="store_true",
        help="each checkout names express delivery and a 10%% discount code "
        "(without: the cheapest delivery, no code)",
    )
    args = parser.parse_args()

    admin_email = "bench-admin@example.com"
    admin_password = "Bench-Admin-" + secrets.token_hex(8)
    env = {
        # One client: lift the gateway's per-client and per-user limits out of the way.
        "MERCATO_GATEWAY_CLIENT_RATE": "0",
        "MERCATO_GATEWAY_USER_RATE": "0",
        "MERCATO_ADMIN_EMAIL": admin_email,
        "MERCATO_ADMIN_PASSWORD": admin_password,
        # `mercato up`'s simulated carrier moves each shipment 20 s after its last move:
        # its moves, mails and events would count in a run longer than that, not in a
        # shorter one. Off, the CPU per checkout is the checkout's whatever the length.
        "MERCATO_SHIPPING_SIMULATED_CARRIER_SECONDS": "0",
    }
    database = "PostgreSQL" if args.postgres else "MariaDB" if args.mysql else "SQLite"
    broker = "RabbitMQ" if args.broker == "amqp" else "NATS (embedded)"
    with contextlib.ExitStack() as stack:
        if args.broker == "amqp":
            env.update(stack.enter_context(rabbit_namespace(RABBIT_URL)))
        if args.postgres:
            env.update(stack.enter_context(postgres_databases(args.postgres)))
        if args.mysql:
            env.update(stack.enter_context(mariadb_databases(args.mysql)))
        system = stack.enter_context(start_mercato(env, settle=args.settle))
        run = asyncio.run(
            measure(system, admin_email, admin_password, args.seconds, after_sale=args.after_sale)
        )
        flow = "express delivery and a code" if args.after_sale else "cheapest delivery"
        report(
            run,
            f"# Mercato checkout benchmark on {database}, {broker}, {flow}: {CUSTOMERS} "
            f"customers, {args.seconds:.0f} s; ready in {system.ready_seconds:.1f} s",
        )


if __name__ == "__main__":
    main()
