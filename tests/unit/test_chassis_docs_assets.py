"""Unit tests of the vendored docs assets: every file ships with the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

from mercato.chassis.web.docs import STATIC, assets

ROOT = Path(__file__).parents[2]


def test_every_vendored_file_is_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mercato.chassis.web"]
    web = STATIC.parent
    shipped = {path for pattern in patterns for path in web.glob(pattern)}
    vendored = {path for path in STATIC.rglob("*") if path.is_file()}
    assert vendored == shipped


def test_the_manifest_names_each_package_with_its_version_and_license() -> None:
    for package, entry in assets().items():
        assert entry["version"] and entry["license"], package
        assert entry["tarball"].startswith(f"https://registry.npmjs.org/{package}/-/"), package
        assert entry["integrity"].startswith("sha512-"), package
        assert "LICENSE" in entry["files"], package
