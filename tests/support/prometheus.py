"""A real Prometheus server for a test, and the few calls of its HTTP API tests make.

`running_prometheus(config, directory)` starts the machine's `prometheus` (skipping,
or failing under MERCATO_REQUIRE_SERVERS=1, without it) on a free local port with its
storage in `directory`, waits until it is ready, and stops it afterwards; its output
goes to `directory/prometheus.log`, printed if it does not become ready.
`PrometheusApi` asks it: an instant query, the active targets, the alerts, the rules.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import closed_port, require_program

__all__ = ["PrometheusApi", "running_prometheus"]

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class PrometheusApi:
    """The HTTP API of one Prometheus server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0, trust_env=False)

    def _data(self, path: str, **params: str) -> Any:
        answer = self.http.get(path, params=params)
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now (a scalar's value as one sample)."""
        data = self._data("/api/v1/query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The value of `expr` if it is one sample; None when it has none."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets."""
        targets: list[dict[str, Any]] = self._data("/api/v1/targets")["activeTargets"]
        return targets

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now."""
        alerts: list[dict[str, Any]] = self._data("/api/v1/alerts")["alerts"]
        return alerts

    def rule_groups(self) -> list[dict[str, Any]]:
        """The rule groups it evaluates."""
        groups: list[dict[str, Any]] = self._data("/api/v1/rules")["groups"]
        return groups

    def close(self) -> None:
        """Close the client."""
        self.http.close()


def _wait_ready(process: subprocess.Popen[bytes], api: PrometheusApi, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if api.http.get("/-/ready").status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus was not ready:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def running_prometheus(config: Path, directory: Path) -> Iterator[PrometheusApi]:
    """A Prometheus reading `config`, its data in `directory`, until the block ends."""
    binary = require_program("prometheus", "prometheus")
    port = closed_port()
    log = directory / "prometheus.log"
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    api = PrometheusApi(f"http://127.0.0.1:{port}")
    try:
        _wait_ready(process, api, log)
        yield api
    finally:
        api.close()
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
