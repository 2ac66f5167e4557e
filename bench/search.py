"""Search at 100,000 products: `python -m bench.search [--seconds N] [--postgres|--mysql SERVER]`.

Options: `--cache on|off` runs one mode only (`off`: computed searches alone),
`--scenario NAME` (repeatable) some scenarios only, and `--statements` (SQLite)
times the search's statements themselves instead (`statements`, below).

Builds a generated catalog of 100,000 products once (`bench.big_catalog`; the SQLite
file, or a PostgreSQL template database, kept in the cache until the generator or
the catalog's migrations change), starts the catalog service alone on a copy of it
(`mercato run catalog`, no broker), and measures four scenarios at 16 connections,
each a mix of queries that the connections take in turn, as shoppers' searches are
a mix (`wrk` when installed, else a Python client):

- one word, 24 of them (`q=laptop`, `q=kettle`, ...),
- a prefix, as typed on the way to those words: 88 of them (`q=lap`, `q=lapt`,
  `q=lapto`, `q=ket`, ...),
- a typo, 24 of them (`q=latpop`, `q=ketlte`, ...: two neighbouring letters swapped),
- the 24 words with `facets=true` (the total and the facet counts too).

Each scenario asks each of its queries once (they must find products), then runs:
on the service as configured by default (answers served for up to 5 s and computed
again in the background after 4 s, `catalog.search_cache`: the steady state of
searches that shoppers made in the last seconds) and with the cache off
(`MERCATO_CATALOG_SEARCH_CACHE_SECONDS=0`: every request computed, as for searches
nobody made in the last seconds). It prints req/s, p50, p99, errors and the CPU the
catalog process spent per request.

`--statements` runs no service: on the SQLite catalog, in this process, it times
each scenario's queries through the catalog's own statements and a few bare FTS5
ones, in process CPU per query (the mean over `--rounds` passes): the FTS5 match
alone (counted), the BM25 ranking alone (the FTS5 table only, best 21: the order
the catalog's relevance had before its tiers, `catalog.ranking`), the catalog's
listing (its first tier's page of 20, joined to the products) and its facet count.
What a computed search costs beyond the listing (and the facets) is the service's own
work: HTTP, the worker thread, decoding and encoding the page.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite as sqlite_dialect

from bench.big_catalog import SIZE, cached_mariadb, cached_postgres, cached_sqlite
from bench.load import Request, Result, closed_loop
from bench.system import cpu_seconds, free_base_port, wait_http
from mercato.catalog.facets import _facet_query
from mercato.catalog.ranking import NAMED, TierParameters, _tier_query, tier_parameters
from mercato.catalog.search import expression, parse

__all__ = ["SCENARIOS", "main"]

WORDS = (
    "laptop", "phone", "charger", "headphones", "earbuds", "speaker", "camera", "mirrorless",
    "kettle", "cookware", "chair", "bookshelf", "desk", "shirt", "jeans", "dress",
    "sneakers", "boots", "tent", "backpack", "thermostat", "doorbell", "cable", "battery",
)  # fmt: skip


def _prefixes(word: str) -> list[str]:
    """What a shopper has typed on the way to `word`, from its third letter."""
    return [word[:n] for n in range(3, len(word))]


def _typo(word: str) -> str:
    """`word` with two different neighbouring letters swapped (one edit), near its middle."""
    at = max(1, len(word) // 2 - 1)
    while word[at] == word[at + 1]:
        at += 1
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


SCENARIOS: dict[str, list[dict[str, str]]] = {
    "one word": [{"q": w} for w in WORDS],
    "prefix": [{"q": typed} for w in WORDS for typed in _prefixes(w)],
    "typo": [{"q": _typo(w)} for w in [w for w in WORDS if len(w) >= 5] + ["wireless", "gaming"]],
    "one word, facets=true": [{"q": w, "facets": "true"} for w in WORDS],
}
MODES = {"cache on (5 s)": {}, "cache off": {"MERCATO_CATALOG_SEARCH_CACHE_SECONDS": "0"}}
PRODUCTS = "/api/catalog/products"


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=60) as response:
        body: dict[str, object] = json.loads(response.read())
        return body


@contextlib.contextmanager
def catalog_service(database_url: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """The catalog service alone on `database_url`: its base URL and process id."""
    port = free_base_port() + 130
    with tempfile.TemporaryDirectory(prefix="mercato-bench-search-") as tmp:
        log = Path(tmp) / "catalog.log"
        variables = {
            **os.environ,
            "MERCATO_DATA_DIR": tmp,
            "MERCATO_BROKER_URL": "",
            "MERCATO_CATALOG_PORT": str(port),
            "MERCATO_CATALOG_DATABASE_URL": database_url,
            "MERCATO_LOG_LEVEL": "warning",
            **env,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "mercato", "run", "catalog"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=variables,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_http(f"{base}/health/ready", timeout=300)
            except TimeoutError:
                sys.stderr.write(log.read_text()[-5000:])
                raise
            yield base, process.pid
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _paths(queries: list[dict[str, str]]) -> tuple[str, ...]:
    return tuple(f"{PRODUCTS}?{urllib.parse.urlencode(q)}" for q in queries)


def _warm(base: str, name: str, paths: tuple[str, ...]) -> None:
    """Ask each query once, checking it finds products (else the figures mean nothing)."""
    for path in paths:
        if not _get(base + path)["items"]:
            raise RuntimeError(f"{name}: {path} finds nothing in the generated catalog")


def _row(scenario: str, mode: str, result: Result, cpu_ms: float) -> str:
    return (
        f"| {scenario:<22} | {mode:<14} | {result.rps:>7.0f} | {result.p50_ms:>7.1f} "
        f"| {result.p99_ms:>7.1f} | {result.errors:>6} | {cpu_ms:>6.2f} |"
    )


def measure(
    database_url: str,
    *,
    seconds: float,
    connections: int,
    modes: list[str] | None = None,
    scenarios: list[str] | None = None,
) -> None:
    """Run the scenarios (default: all) in the modes (default: both) on `database_url`."""
    print("| scenario | cache | req/s | p50 ms | p99 ms | errors | CPU ms/req |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode, env in MODES.items():
        if modes is not None and mode not in modes:
            continue
        with catalog_service(database_url, env) as (base, pid):
            for scenario, queries in SCENARIOS.items():
                if scenarios is not None and scenario not in scenarios:
                    continue
                paths = _paths(queries)
                _warm(base, scenario, paths)
                request = Request("GET", base + PRODUCTS, {}, paths=paths)
                before = cpu_seconds(pid)
                result = closed_loop(request, connections=connections, seconds=seconds)
                used = (cpu_seconds(pid) - before) * 1000 / max(result.requests, 1)
                print(_row(scenario, mode, result, used), flush=True)


# BM25 as the catalog's relevance weighed the columns (title, brand, description,
# category, tags) before it ranked in tiers: kept to compare.
_BM25_WEIGHTS = (10.0, 8.0, 1.0, 4.0, 4.0)
_BM25 = f"bm25(products_fts, {', '.join(map(repr, _BM25_WEIGHTS))})"
_BARE = {
    "FTS5 match, counted": "SELECT count(*) FROM products_fts WHERE products_fts MATCH ?",
    "BM25 ranking alone": (
        f"SELECT rowid, {_BM25} FROM products_fts WHERE products_fts MATCH ? "
        f"ORDER BY {_BM25} LIMIT 21"
    ),
}


# A statement of a search: its SQL and arguments for the search's expression and tiers.
Statement = Callable[[str, TierParameters], tuple[str, Any]]


def _catalog_statement(facets: bool) -> Statement:
    """The catalog's first relevance tier (or facet count): its SQL and arguments."""
    dialect = sqlite_dialect.dialect()
    if facets:
        plan = _facet_query("sqlite", True, frozenset()).plan(dialect)
        return lambda search, tiers: (plan.sql, plan.arguments({"search": search}))

    def first_tier(search: str, tiers: TierParameters) -> tuple[str, Any]:
        names = frozenset(tiers[NAMED])  # the names' table, or every column's
        listing = _tier_query("sqlite", frozenset(), False, NAMED, names).plan(dialect)
        return listing.sql, listing.arguments({**tiers[NAMED], "limit": 21})

    return first_tier


def _bare(sql: str) -> Statement:
    return lambda search, tiers: (sql, [search])


def statements(
    path: Path, *, rounds: int, scenarios: list[str] | None, page_cache_mb: int | None = None
) -> None:
    """Time the statements of each scenario's searches on the SQLite catalog at `path`.

    `page_cache_mb`: SQLite's page cache of the connection (default: SQLite's, 2 MB,
    what the service's connections have).
    """
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    if page_cache_mb is not None:
        connection.execute(f"PRAGMA cache_size=-{page_cache_mb * 1024}")
    kinds: dict[str, Statement] = {
        **{name: _bare(sql) for name, sql in _BARE.items()},
        "the catalog's listing": _catalog_statement(facets=False),
        "the catalog's facets": _catalog_statement(facets=True),
    }
    print("| scenario | statement | CPU ms per query | matches per query |")
    print("|---|---|---:|---:|")
    for scenario, queries in SCENARIOS.items():
        if (scenarios is not None and scenario not in scenarios) or "typo" in scenario:
            continue  # a typo's statements are a word's, once corrected
        parsed = [parse(q["q"]) for q in queries]
        typed = [(expression("sqlite", c), tier_parameters("sqlite", c)) for c in parsed]
        # `the`: a stop word, no search
        searches = [(s, n) for s, n in typed if s is not None and n is not None]
        count = _BARE["FTS5 match, counted"]
        matches = sum(connection.execute(count, [s]).fetchone()[0] for s, _ in searches)
        for kind, statement in kinds.items():
            if "facets" in kind and "facets" not in scenario:
                continue
            runs = [statement(*search) for search in searches]
            for sql, arguments in runs:  # once unmeasured: the pages the statement reads
                connection.execute(sql, arguments).fetchall()
            started = time.process_time()
            for _ in range(rounds):
                for sql, arguments in runs:
                    connection.execute(sql, arguments).fetchall()
            used = (time.process_time() - started) * 1000 / (rounds * len(searches))
            print(f"| {scenario} | {kind} | {used:.2f} | {matches / len(searches):,.0f} |")


def main() -> None:
    """Build or reuse the catalog, measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.search")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--size", type=int, default=SIZE, help="products in the catalog")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mercato-bench",
        help="where the generated SQLite catalog is kept between runs",
    )
    server = parser.add_mutually_exclusive_group()
    server.add_argument(
        "--postgres",
        metavar="USER@HOST:PORT",
        help="measure on this PostgreSQL server (its template database is the cache)",
    )
    server.add_argument(
        "--mysql",
        metavar="USER[:PASSWORD]@HOST:PORT",
        help="measure on this MariaDB/MySQL server (a kept database is the cache)",
    )
    parser.add_argument(
        "--cache", choices=("on", "off"), help="one mode only (off: computed searches alone)"
    )
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="this scenario (repeatable)"
    )
    parser.add_argument(
        "--statements", action="store_true", help="time the statements on SQLite, no service"
    )
    parser.add_argument("--rounds", type=int, default=5, help="passes of --statements")
    parser.add_argument(
        "--page-cache", type=int, metavar="MB", help="SQLite's page cache for --statements"
    )
    args = parser.parse_args()
    if args.statements and (args.postgres or args.mysql):
        parser.error("--statements times SQLite's statements: no --postgres or --mysql")
    modes = (
        None if args.cache is None else [m for m in MODES if m.startswith(f"cache {args.cache}")]
    )
    with contextlib.ExitStack() as stack:
        if args.postgres:
            url = stack.enter_context(cached_postgres(args.postgres, args.size))
            database = "PostgreSQL"
        elif args.mysql:
            url = stack.enter_context(cached_mariadb(args.mysql, args.size))
            database = "MariaDB"
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mercato-search-")))
            copy = cached_sqlite(
                args.cache_dir, tmp / f"catalog-{secrets.token_hex(4)}.db", args.size
            )
            url, database = f"sqlite+aiosqlite:///{copy}", "SQLite"
            if args.statements:
                print(f"# Search statements at {args.size:,} products on SQLite\n")
                statements(
                    copy, rounds=args.rounds, scenarios=args.scenario, page_cache_mb=args.page_cache
                )
                return
        print(
            f"# Search at {args.size:,} products on {database}: {args.connections} connections, "
            f"{args.seconds:.0f} s per run, each scenario's queries taken in turn\n"
        )
        measure(
            url,
            seconds=args.seconds,
            connections=args.connections,
            modes=modes,
            scenarios=args.scenario,
        )


if __name__ == "__main__":
    main()
