"""The suite's own layout: what would stop pytest from collecting it whole.

The test folders are not packages, so pytest imports each test module under its
basename: two modules of the same name in two folders make the whole run stop at
collection ("import file mismatch"), though each folder passes on its own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_name() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
