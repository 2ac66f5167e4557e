"""A large generated catalog for `bench.search`: 100,000 products, built once and cached.

The products come from the demo catalog's recipes (`mercato.catalog.demo`: laptops,
phones, chargers, headphones, cameras, kettles, desks, shirts, shoes, tents...), each
recipe drawn from without end, so titles, descriptions, tags and prices read like a
shop's. The demo has three or four brands per category; a shop of 100,000 products
has more, so each category also gets invented brands whose shares fall off as 1/rank
(a few big brands, a long tail), which gives the brand facet its usual shape. The
brand is replaced in the title and description too. About 7% are out of stock.

The catalog is written in the dummyjson format in chunks of at most 10,000 (what one
`POST /products/import` takes) and imported through the catalog's own import path,
so the database holds what the service would have written (events in the outbox
included). The import takes minutes (7.5 on PostgreSQL), so it is kept: in a SQLite
file in a cache directory (`cached_sqlite`, copied for each run), in a template
database on the PostgreSQL server (`cached_postgres`, each run getting a database
created from it), or in a kept database on the MariaDB server (`cached_mariadb`,
read as it is). Each is named after the generator's version and the catalog's
migration head, so a new migration or generator builds a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from random import Random
from typing import Any

import asyncpg
from alembic.script import ScriptDirectory

from mercato.catalog.demo.generate import CATEGORIES
from mercato.catalog.loading import import_document
from mercato.catalog.models import EVENTS, MIGRATIONS
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.chassis.events import Outbox

__all__ = [
    "SIZE",
    "cached_mariadb",
    "cached_postgres",
    "cached_sqlite",
    "chunks",
    "import_into",
    "mariadb_holds",
    "products",
]

SIZE = 100_000
CHUNK = 10_000
VERSION = 1  # of the generator: a new one makes a new cache file
SEED = 17
STEMS = (
    "Nor", "Kes", "Van", "Aur", "Lum", "Orb", "Pel", "Vol", "Amp", "Son", "Opt", "Cas", "Cuo",
    "Oak", "Fie", "Mai", "Str", "Sum", "Bri", "Cor", "Del", "Eko", "Fal", "Gra", "Hal", "Ist",
)  # fmt: skip
ENDINGS = (
    "wind", "trel", "tix", "ora", "lux", "tech", "wave", "line", "craft", "nova", "peak",
    "field", "stone", "berg", "works", "haus", "ly", "io", "ex", "on",
)  # fmt: skip
INVENTED_PER_CATEGORY = 12


def _brands(r: Random) -> list[str]:
    names = [s + e for s, e in itertools.product(STEMS, ENDINGS)]
    r.shuffle(names)
    return names


def products(size: int = SIZE, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """`size` products in the dummyjson format, the same ones for the same seed."""
    r = Random(seed)
    pool = iter(_brands(r))
    per_category = -(-size // len(CATEGORIES))
    n = 0
    for slug, prefix, recipe, _ in CATEGORIES:
        drafts = recipe(Random(f"{seed}:{slug}"))
        invented = [next(pool) for _ in range(INVENTED_PER_CATEGORY)]
        for draft in itertools.islice(drafts, per_category):
            if n == size:
                return
            brands = [draft.brand, *invented]
            weights = [1 / (rank + 1) for rank in range(len(brands))]
            brand = r.choices(brands, weights)[0]
            stock = 0 if r.random() < 0.07 else r.randint(1, 200)
            n += 1
            yield {
                "sku": f"{prefix}-{n:06d}",
                "title": draft.title.replace(draft.brand, brand),
                "description": draft.description.replace(draft.brand, brand),
                "category": slug,
                "price": round(draft.cents / 100, 2),
                "rating": round(r.uniform(3.0, 5.0), 1),
                "stock": stock,
                "tags": draft.tags,
                "brand": brand,
                **draft.attributes,
            }


def chunks(size: int = SIZE) -> Iterator[bytes]:
    """The catalog as dummyjson documents of at most `CHUNK` products each."""
    items = products(size)
    while batch := list(itertools.islice(items, CHUNK)):
        yield json.dumps({"products": batch}).encode()


async def _import(url: str, size: int) -> None:
    db = Database(url)
    try:
        await upgrade(db, MIGRATIONS, "catalog")
        outbox = Outbox(EVENTS, source="catalog")
        for raw in chunks(size):
            result = await import_document(db, outbox, raw, currency="USD")
            if result.errors:
                raise RuntimeError(f"the generated catalog is invalid: {result.errors[0]}")
    finally:
        await db.dispose()


def import_into(url: str, size: int = SIZE) -> None:
    """Migrate the catalog database at `url` and import the generated catalog into it."""
    asyncio.run(_import(url, size))


def _name(size: int) -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    return f"catalog_{size}_v{VERSION}_r{head}"


def cached_sqlite(cache_dir: Path, target: Path, size: int = SIZE) -> Path:
    """A copy at `target` of the SQLite catalog of `size` products cached in `cache_dir`.

    Built once (the import takes minutes); a copy per run keeps the cached file as
    it was built, whatever the run writes or migrates.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = cache_dir / f"{_name(size)}.db"
    if not cached.exists():
        building = cached.with_suffix(".building")
        building.unlink(missing_ok=True)
        print(f"# building the {size:,}-product catalog in {cached} (once)", flush=True)
        import_into(f"sqlite+aiosqlite:///{building}", size)
        building.rename(cached)
    shutil.copyfile(cached, target)
    return target


async def _run(server: str, *statements: str, database: str = "postgres") -> None:
    """Run `statements` on one of the server's databases."""
    connection = await asyncpg.connect(f"postgresql://{server}/{database}")
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _template_exists(server: str, name: str) -> bool:
    connection = await asyncpg.connect(f"postgresql://{server}/postgres")
    try:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        return found is not None
    finally:
        await connection.close()


@contextlib.contextmanager
def cached_postgres(server: str, size: int = SIZE) -> Iterator[str]:
    """The URL of a new database on `server` holding the catalog (dropped afterwards).

    Created from the template database `mercato_bench_<name>`, which is built the
    first time and kept: it is the cache (drop it to build it again).
    """
    template = f"mercato_bench_{_name(size)}"
    if not asyncio.run(_template_exists(server, template)):
        building = f"{template}_building"
        print(f"# building the {size:,}-product catalog in database {template} (once)", flush=True)
        drop, create = f'DROP DATABASE IF EXISTS "{building}"', f'CREATE DATABASE "{building}"'
        asyncio.run(_run(server, drop, create))
        import_into(f"postgresql+asyncpg://{server}/{building}", size)
        # What autovacuum does to a live database after an import: among others, it
        # empties the GIN index's pending list (8,500 entries here), which every search
        # reads through until then (16 ms for a word that matches nothing, not 0.05).
        asyncio.run(_run(server, "VACUUM ANALYZE", database=building))
        asyncio.run(_run(server, f'ALTER DATABASE "{building}" RENAME TO "{template}"'))
    run = f"mercato_bench_search_{secrets.token_hex(4)}"
    asyncio.run(_run(server, f'CREATE DATABASE "{run}" TEMPLATE "{template}"'))
    try:
        yield f"postgresql+asyncpg://{server}/{run}"
    finally:
        asyncio.run(_run(server, f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)'))


async def _mariadb(server: str, statement: str) -> object:
    """Run `statement` on the MariaDB (or MySQL) `server`; the first column of its first row."""
    import asyncmy  # noqa: PLC0415 (only a --mysql run needs the driver)

    credentials, _, address = server.rpartition("@")
    user, _, password = credentials.partition(":")
    host, _, port = address.partition(":")
    connection = await asyncmy.connect(
        host=host, port=int(port or 3306), user=user, password=password, autocommit=True
    )
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(statement)
            row = await cursor.fetchone()
            return row[0] if row else None
    finally:
        connection.close()


def mariadb_holds(server: str, name: str, size: int) -> bool:
    """Whether the database `name` on the MariaDB `server` holds `size` products."""
    query = (
        "SELECT COUNT(*) FROM information_schema.tables "
        f"WHERE table_schema = '{name}' AND table_name = 'products'"
    )
    if asyncio.run(_mariadb(server, query)) != 1:
        return False
    return asyncio.run(_mariadb(server, f"SELECT COUNT(*) FROM `{name}`.products")) == size


@contextlib.contextmanager
def cached_mariadb(server: str, size: int = SIZE) -> Iterator[str]:
    """The URL of the database on the MariaDB `server` holding the catalog.

    MariaDB has no template databases and cannot rename one, so the database
    `mercato_bench_<name>` is built the first time, kept, and used as it is: a search
    benchmark only reads it. It counts as built once it holds `size` products (a
    build cut short is built again).
    """
    name = f"mercato_bench_{_name(size)}"
    url = f"mysql+asyncmy://{server}/{name}"
    if not mariadb_holds(server, name, size):
        print(f"# building the {size:,}-product catalog in database {name} (once)", flush=True)
        asyncio.run(_mariadb(server, f"DROP DATABASE IF EXISTS `{name}`"))
        asyncio.run(_mariadb(server, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        import_into(url, size)
    yield url
