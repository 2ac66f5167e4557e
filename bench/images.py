"""The product images benchmark: `python -m bench.images [--seconds N] [--postgres SERVER]`.

Prints, on this machine:

- drawing the demo catalog's 300 pictures (wall and CPU seconds), what the
  catalog's first start spends on them, and `mercato up`'s time to ready with the
  demo catalog and with `--no-demo`;
- processing an upload: a 1600x1200 PNG and a 12-megapixel JPEG (median of 3);
- reading one `medium` variant (~10 kB) and one `large` variant of a photo (~100 kB)
  the way serving reads it (a direct read by primary key) on SQLite and, given
  `--postgres user@host:port`, on PostgreSQL, beside reading the same bytes from a
  file, the design that was not chosen (microseconds per read, one at a time);
- serving over HTTP with wrk (16 connections, the system from `mercato up` on
  SQLite): a product read and a picture, each direct to the catalog and through
  the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from bench.load import Request, closed_loop
from bench.system import postgres_databases, start_mercato
from mercato.catalog.app import create_app
from mercato.catalog.demo.generate import OUTPUT
from mercato.catalog.images import store
from mercato.catalog.images.demo import demo_pictures
from mercato.catalog.images.links import Variant
from mercato.catalog.images.processing import PICTURES, process
from mercato.catalog.models import Product
from mercato.catalog.settings import load_settings

__all__ = ["main"]

READS = 3000


def draw_demo() -> tuple[float, float]:
    """Wall and CPU seconds to draw every demo product's picture."""
    products = json.loads(OUTPUT.read_text())["products"]
    items = [(p["title"], p["category"], p.get("brand")) for p in products]
    wall, cpu = time.perf_counter(), time.process_time()
    demo_pictures(items)
    return time.perf_counter() - wall, time.process_time() - cpu


def _photo(width: int, height: int, fmt: str) -> bytes:
    # Smooth shapes with grain over them, so that it compresses about as a photo does.
    shapes = Image.effect_mandelbrot((width, height), (-2.0, -1.2, 1.0, 1.2), 80).convert("RGB")
    grain = Image.effect_noise((width, height), 60).convert("RGB")
    image = Image.blend(shapes, grain, 0.12)
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def process_uploads() -> dict[str, tuple[int, float]]:
    """Bytes and median milliseconds of processing each kind of upload."""
    figures = {}
    for name, (width, height, fmt) in {
        "PNG 1600x1200": (1600, 1200, "PNG"),
        "JPEG 4000x3000": (4000, 3000, "JPEG"),
    }.items():
        data = _photo(width, height, fmt)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            process(data, max_pixels=25_000_000)
            times.append((time.perf_counter() - started) * 1000)
        figures[name] = (len(data), statistics.median(times))
    return figures


async def _per_call(call: Callable[[], Awaitable[object]], count: int = READS) -> float:
    """Microseconds per awaited call, one at a time, after a warm-up."""
    for _ in range(50):
        await call()
    started = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - started) / count * 1e6


async def _in_loop(path: Path) -> bytes:
    # Blocking on purpose: what SQLite's direct reads do too (small, cached files).
    return path.read_bytes()  # noqa: ASYNC240


async def read_variants(database_url: str, data_dir: Path) -> dict[str, float]:
    """Microseconds per read of a stored variant, by size and way, on one database."""
    settings = load_settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url="",
        demo_data=True,
        log_level="warning",
    )
    app = create_app(settings)
    runtime = app.state.runtime
    upload = _photo(1600, 1200, "JPEG")
    photo = await asyncio.get_running_loop().run_in_executor(
        PICTURES, lambda: process(upload, max_pixels=25_000_000)
    )
    figures: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        reader = runtime.database.reader
        photo_id = str(uuid.uuid4())
        async with runtime.database.session() as session:
            product = (await session.execute(select(Product.id).limit(1))).scalar_one()
            await store.add_images(session, [(photo_id, product, photo)], now=datetime.now(UTC))
            await session.commit()
        demo_id = (await store.list_images(reader, product))[0]["id"]
        variants: list[tuple[str, str, Variant]] = [
            ("a demo card's medium", demo_id, "medium"),
            ("a photo's large", photo_id, "large"),
        ]
        for label, image_id, variant in variants:
            row = await store.read_variant(reader, image_id, variant)
            assert row is not None
            path = data_dir / f"{image_id}-{variant}.webp"
            path.write_bytes(row["data"])
            name = f"{label} ({len(row['data']) / 1000:.0f} kB)"

            async def from_database(i: str = image_id, v: Variant = variant) -> object:
                return await store.read_variant(reader, i, v)

            async def in_loop(p: Path = path) -> bytes:
                return await _in_loop(p)

            async def in_thread(p: Path = path) -> bytes:
                return await asyncio.to_thread(p.read_bytes)

            figures[f"{name}: database, direct read"] = await _per_call(from_database)
            figures[f"{name}: file, read in the loop"] = await _per_call(in_loop)
            figures[f"{name}: file, read in a thread"] = await _per_call(in_thread)
    return figures


def serve_over_http(seconds: float) -> tuple[dict[str, float], float, float]:
    """Requests per second of product and picture reads; `mercato up`'s times to ready."""
    with start_mercato(args=["--no-demo"], settle=0) as bare:
        bare_ready = bare.ready_seconds
    rates: dict[str, float] = {}
    with start_mercato() as system:
        catalog = system.direct("catalog")
        page = json.loads(_get(f"{catalog}/api/catalog/products?limit=1"))
        product = page["items"][0]
        targets = {
            "product, direct": f"{catalog}/api/catalog/products/{product['id']}",
            "product, via gateway": f"{system.gateway}/api/catalog/products/{product['id']}",
            "picture (medium), direct": f"{catalog}{product['images'][0]}",
            "picture (medium), via gateway": f"{system.gateway}{product['images'][0]}",
        }
        for name, url in targets.items():
            rates[name] = closed_loop(Request("GET", url, {}), seconds=seconds).rps
        demo_ready = system.ready_seconds
    return rates, demo_ready, bare_ready


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body


def _reads(postgres: str | None) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mercato-bench-images-") as tmp:
        for database in ("SQLite", "PostgreSQL") if postgres else ("SQLite",):
            data_dir = Path(tmp) / database
            data_dir.mkdir()
            if database == "SQLite":
                results[database] = asyncio.run(read_variants("", data_dir))
                continue
            assert postgres is not None
            with postgres_databases(postgres, prefix="mercato_bench_images") as urls:
                url = urls["MERCATO_CATALOG_DATABASE_URL"]
                results[database] = asyncio.run(read_variants(url, data_dir))
    return results


def main() -> None:
    """Measure and print (see the module)."""
    parser = argparse.ArgumentParser(prog="python -m bench.images")
    parser.add_argument("--seconds", type=float, default=10.0, help="each wrk run")
    parser.add_argument("--postgres", default="", help="user@host:port of a PostgreSQL server")
    parser.add_argument("--no-http", action="store_true", help="skip `mercato up` and wrk")
    args = parser.parse_args()
    wall, cpu = draw_demo()
    print(f"demo pictures: 300 drawn in {wall:.2f} s ({cpu:.2f} s CPU)")
    for name, (size, ms) in process_uploads().items():
        print(f"upload {name} ({size / 1e6:.1f} MB): processed in {ms:.0f} ms")
    for database, figures in _reads(args.postgres or None).items():
        for name, micros in figures.items():
            print(f"{database}, {name}: {micros:.0f} us per read")
    if args.no_http:
        return
    rates, demo_ready, bare_ready = serve_over_http(args.seconds)
    print(f"mercato up ready in {demo_ready:.1f} s with the demo, {bare_ready:.1f} s without")
    for name, rps in rates.items():
        print(f"GET {name}: {rps:.0f} req/s (16 connections)")


if __name__ == "__main__":
    main()
