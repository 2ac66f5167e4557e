"""Unit tests of the docs' assets: every file the pages load is installed with Mercato."""

from __future__ import annotations

import tomllib
from pathlib import Path

from mercato.chassis.web.docs import FILES, STATIC

ROOT = Path(__file__).parents[2]


def test_every_file_the_pages_load_is_installed() -> None:
    installed = {path.name for path in STATIC.iterdir() if path.is_file()}
    wanted = {name for names in FILES.values() for name in names}
    assert wanted <= installed, wanted - installed


def test_the_package_holding_them_is_a_declared_dependency() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [spec.split(">")[0] for spec in pyproject["project"]["dependencies"]]
    assert "fastapi-offline" in declared
    assert "fastapi-offline==" in (ROOT / "requirements.lock").read_text()
