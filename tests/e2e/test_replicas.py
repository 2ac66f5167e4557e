"""Replicas end to end: a catalog replica killed with SIGKILL costs no failed read."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import httpx
import pytest

from tests.e2e.client import Shop, System, eventually

pytestmark = pytest.mark.e2e

RESTART_TIMEOUT = 30.0


def test_reads_survive_a_killed_catalog_replica_which_is_restarted(
    shop: Shop, system: System
) -> None:
    product = shop.http.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
    url = f"/api/catalog/products/{product['id']}"
    victim = system.pid("catalog-2")
    assert victim is not None, "catalog-2 has no pid file"
    replica = f"http://127.0.0.1:{system.port + 131}/health/ready"

    os.kill(victim, signal.SIGKILL)

    statuses: list[int] = []
    deadline = time.monotonic() + RESTART_TIMEOUT
    restarted = False
    with httpx.Client(timeout=2.0, trust_env=False) as direct:
        while time.monotonic() < deadline and not restarted:
            statuses.append(shop.http.get(url).status_code)
            pid = system.pid("catalog-2")
            if pid not in (None, victim):
                with contextlib.suppress(httpx.HTTPError):
                    restarted = direct.get(replica).status_code == 200
            time.sleep(0.1)

    assert restarted, f"catalog-2 was not back within {RESTART_TIMEOUT:.0f} s"
    assert statuses and set(statuses) == {200}, statuses
    for _ in range(6):  # both replicas answer again, round robin
        assert shop.http.get(url).status_code == 200

    def announced() -> bool | None:
        log = system.log()
        said = ("catalog-2 was killed by SIGKILL; restarting", "catalog-2 is ready again")
        return True if all(line in log for line in said) else None

    eventually(announced, timeout=5.0)
