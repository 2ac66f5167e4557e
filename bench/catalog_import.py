"""The import of a big products file: its time and the importing process's peak memory.

`write_file(path, items)` writes products (`bench.big_catalog.products`, by default)
as one dummyjson document, an item at a time; `measure_import(url, path)` imports it
with `mercato.catalog.loading.import_file` (what `mercato import-products` runs) in a
child process into the database at `url`, and gives the seconds it took and the
child's peak resident memory (`os.wait4`: that child's own, not the largest of all).

    python -m bench.catalog_import [--size N] [--postgres USER@HOST:PORT | --mysql USER@HOST:PORT]

A child is given `PYTHONPATH` as this process has it, so `PYTHONPATH=<another
checkout>/src python -m bench.catalog_import` measures another version of the import
(the figures of docs/performance.md compare the one before streaming this way).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.big_catalog import products
from bench.system import mariadb_databases, postgres_databases

__all__ = ["Imported", "measure_import", "write_file"]

CHILD = """
import asyncio, sys, time
from mercato.catalog.loading import import_file
from mercato.catalog.settings import load_settings
started = time.perf_counter()
result = asyncio.run(import_file(load_settings(database_url=sys.argv[1]), sys.argv[2]))
assert not result.errors, result.errors[:3]
print(time.perf_counter() - started, result.created)
"""


@dataclass(frozen=True, slots=True)
class Imported:
    """One import: how long, the peak memory of its process, how many products it made."""

    seconds: float
    peak_mb: float
    created: int


def write_file(path: Path, items: Iterable[dict[str, Any]]) -> Path:
    """Products as one dummyjson file at `path`, an item a line, written as they come."""
    with path.open("wb") as out:
        out.write(b'{"products": [\n')
        for n, item in enumerate(items):
            out.write((b",\n" if n else b"") + orjson.dumps(item))
        out.write(b"\n]}\n")
    return path


def measure_import(url: str, path: Path) -> Imported:
    """Import the file at `path` into the catalog database at `url` in a child process."""
    env = {**os.environ, "MERCATO_LOG_LEVEL": "warning"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(path)], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    output = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"the import failed ({child.returncode}): {output}")
    seconds, created = output.split()
    # ru_maxrss is in KiB on Linux
    return Imported(float(seconds), usage.ru_maxrss / 1024, int(created))


@contextlib.contextmanager
def empty_database(postgres: str | None, tmp: Path, mysql: str | None = None) -> Iterator[str]:
    """The URL of a new, empty catalog database (SQLite in `tmp`, or on a server)."""
    if postgres is not None:
        with postgres_databases(postgres, "mercato_bench_import") as urls:
            yield urls["MERCATO_CATALOG_DATABASE_URL"]
    elif mysql is not None:
        with mariadb_databases(mysql, "mercato_bench_import") as urls:
            yield urls["MERCATO_CATALOG_DATABASE_URL"]
    else:
        yield f"sqlite+aiosqlite:///{tmp / f'catalog-{secrets.token_hex(4)}.db'}"


def main() -> None:
    """Write the file, import it into an empty database, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.catalog_import")
    parser.add_argument("--size", type=int, default=100_000)
    server = parser.add_mutually_exclusive_group()
    server.add_argument("--postgres", metavar="USER@HOST:PORT")
    server.add_argument("--mysql", metavar="USER[:PASSWORD]@HOST:PORT")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mercato-import-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        path = write_file(tmp / "products.json", products(args.size))
        wrote = time.perf_counter() - started
        megabytes = path.stat().st_size / 1e6
        print(f"# {args.size:,} products, {megabytes:.0f} MB file written in {wrote:.1f} s")
        with empty_database(args.postgres, tmp, args.mysql) as url:
            done = measure_import(url, path)
        database = "PostgreSQL" if args.postgres else "MariaDB" if args.mysql else "SQLite"
        print("| database | products | seconds | products/s | peak RSS MB |")
        print("|---|---:|---:|---:|---:|")
        print(
            f"| {database} | {done.created:,} | {done.seconds:.1f} "
            f"| {done.created / done.seconds:,.0f} | {done.peak_mb:.0f} |"
        )


if __name__ == "__main__":
    main()
