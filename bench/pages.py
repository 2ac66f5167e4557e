"""The storefront's pages under load: `python -m bench.pages [--seconds N] [--cache S ...]`
(`--postgres` or `--mysql SERVER`: every service's database on that server).

Starts Mercato with `mercato up` (embedded NATS, SQLite, the demo catalog) on free
ports, once per value of the web service's catalog cache
(`MERCATO_WEB_CATALOG_CACHE_SECONDS`; by default 0, nothing kept, then 2, the
default), and for each measures through the gateway, as a visitor (no cookie):
a product page, a search results page, a category page and the front page, at 16
connections (throughput at saturation, `wrk` when installed), then the product and
search pages at a fixed rate below it (400 pages/s; latency from each request's due
time, by the Python generator of `bench.load`). It
prints pages/s, p50/p99, the CPU each process spends per page, and each page's
weight: its HTML, the static files it names (CSS, JavaScript, icons, pictures) and
whether any of them is on another origin.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import urllib.request
from dataclasses import dataclass

from bench.load import Request, Result, closed_loop, fixed_rate
from bench.system import cpu_seconds, mariadb_databases, postgres_databases, start_mercato

# Below saturation: this Python generator costs about as much CPU per request as the
# gateway and shares the same two cores, so it cannot itself send 1,000/s alongside.
FIXED_RATE = 400.0
PROCESSES = ("gateway-1", "web-1", "catalog-1", "catalog-2")
_ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@dataclass(frozen=True)
class Weight:
    """What a page weighs: its HTML, the files it names, and any other origin."""

    html: int
    assets: int
    foreign: tuple[str, ...]

    @property
    def total(self) -> int:
        """The HTML and every file it names, in bytes (uncompressed)."""
        return self.html + self.assets


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body


def weight(base: str, path: str) -> Weight:
    """Fetch a page and every file it names (not its links to other pages)."""
    html = _get(base + path)
    names = {url for url in _ASSET.findall(html.decode()) if url.startswith(("/static/", "/api/"))}
    foreign = tuple(
        url for url in _ASSET.findall(html.decode()) if url.startswith(("http:", "https:", "//"))
    )
    return Weight(len(html), sum(len(_get(base + url)) for url in sorted(names)), foreign)


def _row(name: str, result: Result) -> str:
    return (
        f"| {name:<40} | {result.rps:>8.0f} | {result.p50_ms:>7.1f} | {result.p99_ms:>7.1f} "
        f"| {result.errors:>6} | {result.tool:<17} |"
    )


def _pages(base: str) -> dict[str, str]:
    """The pages measured: a product with stock, a search, a category, the front page."""
    listing = json.loads(_get(f"{base}/api/catalog/products?q=laptop&limit=5"))
    product = next(p for p in listing["items"] if p["stock"] > 0)
    return {
        "product page": f"/product/{product['id']}",
        "search results (q=laptop)": "/search?q=laptop",
        "category page": "/category/laptops",
        "front page": "/",
    }


def measure(
    cache: float, seconds: float, connections: int, rate: float, server: tuple[str, str] | None
) -> None:
    """Start the system with the catalog cache at `cache` seconds; print its figures.

    `server`: ("postgres" or "mysql", its address) for every service's database, fresh
    ones made for this system and dropped after; None: SQLite.
    """
    env = {
        "MERCATO_GATEWAY_CLIENT_RATE": "0",  # one client: lift the gateway's limits
        "MERCATO_GATEWAY_USER_RATE": "0",
        "MERCATO_WEB_CATALOG_CACHE_SECONDS": str(cache),
    }
    with contextlib.ExitStack() as stack:
        if server is not None:
            kind, address = server
            made = postgres_databases if kind == "postgres" else mariadb_databases
            env.update(stack.enter_context(made(address)))
        system = stack.enter_context(start_mercato(env))
        base = system.gateway
        pages = _pages(base)
        pids = {name: pid for name, pid in system.pids().items() if name in PROCESSES}
        print(f"\n## Catalog cache {cache:g} s: {connections} connections, {seconds:.0f} s a run\n")
        print("| page | pages/s | p50 ms | p99 ms | errors | tool |\n|---|---:|---:|---:|---:|---|")
        cpu_rows = []
        for name, path in pages.items():
            before = {proc: cpu_seconds(pid) for proc, pid in pids.items()}
            result = closed_loop(
                Request("GET", base + path, {}), connections=connections, seconds=seconds
            )
            print(_row(name, result), flush=True)
            used = {
                proc: (cpu_seconds(pid) - before[proc]) * 1000 / max(result.requests, 1)
                for proc, pid in pids.items()
            }
            cpu_rows.append((name, used))
        for name in ("product page", "search results (q=laptop)"):
            fixed = fixed_rate(
                Request("GET", base + pages[name], {}), rate=rate, seconds=min(seconds, 5)
            )
            print(_row(f"{name} at fixed {rate:.0f}/s", fixed), flush=True)
        print("\n| page | CPU ms per page, by process | total |\n|---|---|---:|")
        for name, used in cpu_rows:
            parts = ", ".join(f"{proc} {ms:.2f}" for proc, ms in used.items())
            print(f"| {name} | {parts} | {sum(used.values()):.2f} |")
        print("\n| page | HTML KB | with its files KB | other origins |\n|---|---:|---:|---|")
        for name, path in pages.items():
            w = weight(base, path)
            others = ", ".join(w.foreign) or "none"
            print(f"| {name} | {w.html / 1024:.1f} | {w.total / 1024:.1f} | {others} |")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rate", type=float, default=FIXED_RATE, help="pages/s of the fixed-rate runs"
    )
    parser.add_argument(
        "--cache",
        type=float,
        nargs="+",
        default=[0.0, 2.0],
        metavar="SECONDS",
        help="the web service's catalog cache, one system per value (default: 0 then 2)",
    )
    server_group = parser.add_mutually_exclusive_group()
    server_group.add_argument(
        "--postgres", metavar="USER@HOST:PORT", help="every database on this PostgreSQL server"
    )
    server_group.add_argument(
        "--mysql", metavar="USER[:PASSWORD]@HOST:PORT", help="every database on this MariaDB"
    )
    args = parser.parse_args()
    server = (
        ("postgres", args.postgres)
        if args.postgres
        else ("mysql", args.mysql)
        if args.mysql
        else None
    )
    database = {"postgres": "PostgreSQL", "mysql": "MariaDB"}[server[0]] if server else "SQLite"
    print(f"# Mercato storefront pages through the gateway, as a visitor, on {database}")
    for cache in args.cache:
        measure(cache, args.seconds, args.connections, args.rate, server)


if __name__ == "__main__":
    main()
