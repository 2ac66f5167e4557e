"""The big catalog: `python -m bench.catalog [--size N] [--seconds S] [--postgres|--mysql SERVER]`.

Builds a generated catalog of a million products (by default) once and keeps it, then
measures the catalog service alone on a copy of it at 16 connections (`wrk` when
installed, else a Python client): a product read, a category's first page and a
deeper page (after 10 cursors) by newest and by price, and a one-word search; req/s,
p50, p99, errors and the catalog process's CPU per request. Every request is computed
(`MERCATO_CATALOG_SEARCH_CACHE_SECONDS=0`).

The products are `bench.big_catalog`'s (the demo's recipes drawn from without end:
realistic titles, descriptions, tags, attributes and prices, invented brands with
1/rank shares, about 7% out of stock), each demo category split into lines
(`laptops-pro`, `kitchen-outlet`, ...) whose shares also fall off as 1/rank: 96
categories of 3,700 to 31,000 products each at a million. Deterministic (a
fixed seed).

The build is the import being measured: the products file (written once into the
cache directory, about 450 MB at a million) is imported by `mercato import-products`'s
own function in a child process into an empty database (`bench.catalog_import`),
whose seconds and peak resident memory are printed and kept beside the cached
database (a SQLite file in the cache directory, the PostgreSQL template database
`mercato_bench_<name>`, or on MariaDB that database itself, kept and only read), so
a later run prints them again without importing (drop the cache to measure again).
Named after the generator's version and the catalog's migration head.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from random import Random
from typing import Any

from alembic.script import ScriptDirectory

from bench.big_catalog import _mariadb, _run, _template_exists, mariadb_holds, products
from bench.catalog_import import Imported, measure_import, write_file
from bench.load import Request, Result, closed_loop
from bench.search import PRODUCTS, WORDS, _get, catalog_service
from bench.system import cpu_seconds
from mercato.catalog.models import MIGRATIONS

__all__ = ["LINES", "generated", "main"]

SIZE = 1_000_000
VERSION = 1
SEED = 19
LINES = ("essentials", "pro", "outlet", "classic", "eco", "travel", "kids", "premium")
DEEP = 10  # pages followed for a deeper page
CACHE_OFF = {"MERCATO_CATALOG_SEARCH_CACHE_SECONDS": "0"}


def generated(size: int = SIZE) -> Iterator[dict[str, Any]]:
    """`size` products in the dummyjson format, each category split into lines."""
    r = Random(SEED)
    weights = [1 / (rank + 1) for rank in range(len(LINES))]
    for item in products(size, seed=SEED):
        item["category"] = f"{item['category']}-{r.choices(LINES, weights)[0]}"
        yield item


def _name(size: int) -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    return f"catalog_{size}_c{VERSION}_r{head}"


def _products_file(cache_dir: Path, size: int) -> Path:
    path = cache_dir / f"products_{size}_c{VERSION}.json"
    if not path.exists():
        print(f"# writing the {size:,}-product file {path} (once)", flush=True)
        building = path.with_suffix(".building")
        write_file(building, generated(size))
        building.rename(path)
    return path


def _imported(figures: Path) -> Imported:
    return Imported(**json.loads(figures.read_text()))


def _build(url: str, cache_dir: Path, size: int, figures: Path) -> Imported:
    done = measure_import(url, _products_file(cache_dir, size))
    figures.write_text(json.dumps(asdict(done)))
    return done


def built_sqlite(cache_dir: Path, target: Path, size: int) -> tuple[Path, Imported]:
    """A copy at `target` of the cached SQLite catalog, and its import's figures."""
    cached = cache_dir / f"{_name(size)}.db"
    figures = cached.with_suffix(".import.json")
    if not cached.exists():
        building = cached.with_suffix(".building")
        building.unlink(missing_ok=True)
        print(f"# importing {size:,} products into {cached} (once)", flush=True)
        _build(f"sqlite+aiosqlite:///{building}", cache_dir, size, figures)
        building.rename(cached)
    shutil.copyfile(cached, target)
    return target, _imported(figures)


@contextlib.contextmanager
def built_postgres(server: str, cache_dir: Path, size: int) -> Iterator[tuple[str, Imported]]:
    """A new database on `server` holding the catalog (dropped afterwards), and its import's
    figures; made from the template database `mercato_bench_<name>`, built once."""
    import asyncio  # noqa: PLC0415

    template = f"mercato_bench_{_name(size)}"
    figures = cache_dir / f"{template}.import.json"
    if not asyncio.run(_template_exists(server, template)):
        building = f"{template}_building"
        print(f"# importing {size:,} products into database {template} (once)", flush=True)
        drop, create = f'DROP DATABASE IF EXISTS "{building}"', f'CREATE DATABASE "{building}"'
        asyncio.run(_run(server, drop, create))
        _build(f"postgresql+asyncpg://{server}/{building}", cache_dir, size, figures)
        # What autovacuum does to a live database after an import (bench.big_catalog).
        asyncio.run(_run(server, "VACUUM ANALYZE", database=building))
        asyncio.run(_run(server, f'ALTER DATABASE "{building}" RENAME TO "{template}"'))
    run = f"mercato_bench_catalog_{secrets.token_hex(4)}"
    asyncio.run(_run(server, f'CREATE DATABASE "{run}" TEMPLATE "{template}"'))
    try:
        yield f"postgresql+asyncpg://{server}/{run}", _imported(figures)
    finally:
        asyncio.run(_run(server, f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)'))


@contextlib.contextmanager
def built_mariadb(server: str, cache_dir: Path, size: int) -> Iterator[tuple[str, Imported]]:
    """The database on the MariaDB `server` holding the catalog, and its import's figures.

    MariaDB has neither template databases nor a way to rename one: the database
    `mercato_bench_<name>` is built once and kept, and the benchmark only reads it.
    """
    import asyncio  # noqa: PLC0415

    name = f"mercato_bench_{_name(size)}"
    figures = cache_dir / f"{name}.mariadb.import.json"
    url = f"mysql+asyncmy://{server}/{name}"
    if not (figures.exists() and mariadb_holds(server, name, size)):
        print(f"# importing {size:,} products into database {name} (once)", flush=True)
        asyncio.run(_mariadb(server, f"DROP DATABASE IF EXISTS `{name}`"))
        asyncio.run(_mariadb(server, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        _build(url, cache_dir, size, figures)
        # What InnoDB's own statistics refresh does to a live table after an import.
        asyncio.run(_mariadb(server, f"ANALYZE TABLE `{name}`.products"))
    yield url, _imported(figures)


def _listing(category: str, sort: str, cursor: str | None = None) -> str:
    query = {"category": category, "sort": sort, **({"cursor": cursor} if cursor else {})}
    return f"{PRODUCTS}?{urllib.parse.urlencode(query)}"


def _deep(base: str, category: str, sort: str) -> str:
    """The path of the page after `DEEP` pages of `category` in order `sort` (or its last)."""
    cursor = None
    for _ in range(DEEP):
        following = _get(base + _listing(category, sort, cursor))["next_cursor"]
        if following is None:
            break
        cursor = str(following)
    return _listing(category, sort, cursor)


def scenarios(base: str) -> dict[str, tuple[str, ...]]:
    """Each scenario's paths, read from the running catalog (ids, categories, cursors)."""
    listed: Any = _get(f"{base}/api/catalog/categories")["items"]
    categories = [c["slug"] for c in listed]
    ids: list[str] = []
    for category in categories:
        items: Any = _get(base + _listing(category, "price_asc"))["items"]
        ids += [item["id"] for item in items]
    some = categories[::4]
    return {
        "product read": tuple(f"{PRODUCTS}/{i}" for i in ids),
        "category, newest, page 1": tuple(_listing(c, "newest") for c in categories),
        f"category, newest, page {DEEP + 1}": tuple(_deep(base, c, "newest") for c in some),
        "category, by price, page 1": tuple(_listing(c, "price_asc") for c in categories),
        f"category, by price, page {DEEP + 1}": tuple(_deep(base, c, "price_asc") for c in some),
        "search, one word": tuple(f"{PRODUCTS}?q={w}" for w in WORDS),
    }


def _row(scenario: str, result: Result, cpu_ms: float) -> str:
    return (
        f"| {scenario:<26} | {result.rps:>7.0f} | {result.p50_ms:>7.1f} | {result.p99_ms:>7.1f} "
        f"| {result.errors:>6} | {cpu_ms:>6.2f} |"
    )


def measure(url: str, *, seconds: float, connections: int) -> None:
    """Every scenario at `connections` connections on the catalog at `url`."""
    with catalog_service(url, CACHE_OFF) as (base, pid):
        paths = scenarios(base)
        print("| scenario | req/s | p50 ms | p99 ms | errors | CPU ms/req |")
        print("|---|---:|---:|---:|---:|---:|")
        for scenario, mix in paths.items():
            request = Request("GET", base + PRODUCTS, {}, paths=mix)
            before = cpu_seconds(pid)
            result = closed_loop(request, connections=connections, seconds=seconds)
            used = (cpu_seconds(pid) - before) * 1000 / max(result.requests, 1)
            print(_row(scenario, result, used), flush=True)


def main() -> None:
    """Build or reuse the catalog, print its import's figures, measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.catalog")
    parser.add_argument("--size", type=int, default=SIZE, help="products in the catalog")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mercato-bench",
        help="where the products file and the SQLite catalog are kept between runs",
    )
    server = parser.add_mutually_exclusive_group()
    server.add_argument("--postgres", metavar="USER@HOST:PORT", help="measure on PostgreSQL")
    server.add_argument("--mysql", metavar="USER[:PASSWORD]@HOST:PORT", help="on MariaDB/MySQL")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.postgres:
            url, done = stack.enter_context(
                built_postgres(args.postgres, args.cache_dir, args.size)
            )
            database = "PostgreSQL"
        elif args.mysql:
            url, done = stack.enter_context(built_mariadb(args.mysql, args.cache_dir, args.size))
            database = "MariaDB"
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mercato-catalog-")))
            copy, done = built_sqlite(args.cache_dir, tmp / "catalog.db", args.size)
            url, database = f"sqlite+aiosqlite:///{copy}", "SQLite"
        print(
            f"# The catalog at {args.size:,} products on {database}\n\n"
            f"Import (`mercato import-products`' function, one file): {done.created:,} products "
            f"in {done.seconds:.1f} s ({done.created / done.seconds:,.0f}/s), "
            f"peak RSS {done.peak_mb:.0f} MB\n"
        )
        runs = f"{args.connections} connections, {args.seconds:.0f} s per run"
        print(f"{runs}, every request computed:\n")
        measure(url, seconds=args.seconds, connections=args.connections)


if __name__ == "__main__":
    main()
