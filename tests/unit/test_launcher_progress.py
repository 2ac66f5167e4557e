"""The long commands' progress: bars on a terminal, their one line and nothing else off it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mercato.catalog.loading import DEMO_FILE
from tests.support.terminal import Terminal

COUNT = 2000


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file of COUNT products (the demo catalog's, under new SKUs)."""
    demo = json.loads(DEMO_FILE.read_text())["products"]
    items = []
    for i in range(COUNT):
        item = dict(demo[i % len(demo)])
        item.update(id=i + 1, sku=f"BULK-{i:05d}", title=f"{item['title']} #{i}")
        items.append(item)
    path = tmp_path_factory.mktemp("products") / "bulk.json"
    path.write_text(json.dumps({"products": items}))
    return path


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_")}


def mercato(*args: str) -> list[str]:
    return [sys.executable, "-m", "mercato", *args]


def test_an_import_on_a_terminal_shows_its_stages_and_rows_per_second(
    products: Path, tmp_path: Path
) -> None:
    command = mercato("import-products", str(products), "--data-dir", str(tmp_path))
    with Terminal(command, env=environment()) as terminal:
        assert terminal.wait(180) == 0
        screen = terminal.screen()
    assert "✓ reading bulk.json" in screen
    assert "✓ checking products" in screen
    finished = [line for line in screen.splitlines() if "✓ writing products" in line]
    assert finished and f"{COUNT}/{COUNT}" in finished[-1]
    assert " rows/s " in finished[-1]  # each batch commits as it goes: no last stage
    assert screen.rstrip().endswith(f"imported {products}: {COUNT} created, 0 updated, 0 unchanged")


def test_an_import_off_a_terminal_prints_its_one_line(products: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        mercato("import-products", str(products), "--data-dir", str(tmp_path)),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=180,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == f"imported {products}: {COUNT} created, 0 updated, 0 unchanged\n"
    assert result.stderr == ""


def test_migrations_on_a_terminal_show_each_one(tmp_path: Path) -> None:
    command = mercato("migrate", "orders", "--data-dir", str(tmp_path))
    with Terminal(command, env=environment()) as terminal:
        assert terminal.wait(120) == 0
        screen = terminal.screen()
    for revision in ("0001", "0002", "0003"):
        assert f"✓ orders {revision} " in screen
    assert "orders: database at the newest revision (" in screen.splitlines()[-1]
