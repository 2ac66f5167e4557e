"""Prometheus metrics of a process's background tasks (`chassis.background`).

    background_task_failures_total{service,task}                   counter: failed rounds
    background_task_last_success_timestamp_seconds{service,task}   gauge: Unix time of the
                                                                   last round that succeeded

A task's failures are counted from 0 as soon as it is declared; its last success is
shown once it has one (a task that never succeeded has no sample, rather than a
timestamp of 1970 that would look like one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["TaskMetrics"]


class TaskMetrics:
    """The background task metrics of one service process."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self._failures = Counter(
            "background_task_failures_total",
            "Rounds of a background task that failed (each is logged, then backed off).",
            ["service", "task"],
            registry=registry,
        )
        self._last_success = Gauge(
            "background_task_last_success_timestamp_seconds",
            "Unix time at which a round of a background task last succeeded.",
            ["service", "task"],
            registry=registry,
        )
        self._failed: dict[str, Any] = {}
        self._succeeded: dict[str, Any] = {}

    def declare(self, tasks: Iterable[str]) -> None:
        """Show the failures of `tasks` from 0 before their first round."""
        for task in tasks:
            self._failed[task] = self._failures.labels(self.service, task)

    def failed(self, task: str) -> None:
        """Count a failed round of `task`."""
        child = self._failed.get(task)
        if child is None:
            child = self._failed[task] = self._failures.labels(self.service, task)
        child.inc()

    def succeeded(self, task: str, at: float) -> None:
        """Record a round of `task` that succeeded at Unix time `at`."""
        child = self._succeeded.get(task)
        if child is None:
            child = self._succeeded[task] = self._last_success.labels(self.service, task)
        child.set(at)
