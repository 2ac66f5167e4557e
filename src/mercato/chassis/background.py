"""Background tasks: what a service runs besides its requests, run the same way for all.

A service declares each task in its `ServiceSpec` as a `BackgroundTask`: a name, one
round of work and the interval between rounds, read from the service's settings.
The runtime starts them once the service is up, and `BackgroundTasks` runs each in
its own asyncio task: a round that raises is logged with its traceback and the next
waits longer (doubling from the interval, up to `max(interval, MAX_BACKOFF)`), so a
task failing on a dependency that is down does not spin; a round that succeeds
brings the interval back. At shutdown every task is cancelled and awaited before the
service's context and database close. Each task's state is in the service's health
(`/health/ready` names them under `tasks`): a failing task is shown there without
making the process unready, since requests do not need it. Given `TaskMetrics`, its
failed rounds and its last success are metrics too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from mercato.chassis.telemetry.task_metrics import TaskMetrics

__all__ = ["MAX_BACKOFF", "BackgroundTask", "BackgroundTasks", "TaskStatus", "next_delay"]

log = logging.getLogger("mercato.background")
MAX_BACKOFF = 30.0
T = TypeVar("T")


def _always(_: object) -> bool:
    return True


def next_delay(interval: float, failures: int) -> float:
    """The wait before the next round, after `failures` failed rounds in a row."""
    if failures == 0:
        return interval
    return min(interval * 2.0**failures, max(interval, MAX_BACKOFF))


@dataclass(frozen=True, slots=True)
class BackgroundTask(Generic[T]):
    """A periodic task of a service, given its owner `T` (the service's runtime).

    `run` does one round; `interval` says how long to wait between rounds; `enabled`
    may turn the task off (a retention of 0 days); `at_start` runs the first round
    at once rather than after the first interval.
    """

    name: str
    run: Callable[[T], Awaitable[object]]
    interval: Callable[[T], float]
    enabled: Callable[[T], bool] = _always
    at_start: bool = True


@dataclass(slots=True)
class TaskStatus:
    """What health shows of one task."""

    rounds: int = 0
    failures: int = 0  # in a row; 0 after a round that succeeded
    last_error: str = ""
    last_success: float | None = None  # Unix time

    def as_dict(self) -> dict[str, object]:
        """The JSON form in `/health/ready`."""
        return {
            "state": "failing" if self.failures else "running",
            "rounds": self.rounds,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_success": self.last_success,
        }


class BackgroundTasks(Generic[T]):
    """Runs the enabled tasks of one owner until `stop`."""

    def __init__(
        self, owner: T, tasks: Sequence[BackgroundTask[T]], metrics: TaskMetrics | None = None
    ) -> None:
        self._owner = owner
        self._tasks = [task for task in tasks if task.enabled(owner)]
        self._running: list[asyncio.Task[None]] = []
        self.status: dict[str, TaskStatus] = {task.name: TaskStatus() for task in self._tasks}
        self.metrics = metrics
        if metrics is not None:
            metrics.declare(self.status)

    def start(self) -> None:
        """Start every task (once)."""
        if self._running:
            return
        for task in self._tasks:
            self._running.append(asyncio.create_task(self._loop(task), name=task.name))

    async def stop(self) -> None:
        """Cancel every task and wait until each has ended."""
        running, self._running = self._running, []
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> tuple[asyncio.Task[None], ...]:
        """The asyncio tasks running now (none before `start` and after `stop`)."""
        return tuple(self._running)

    def health(self) -> dict[str, dict[str, object]]:
        """Each task's state, for `/health/ready`."""
        return {name: status.as_dict() for name, status in self.status.items()}

    async def _loop(self, task: BackgroundTask[T]) -> None:
        status = self.status[task.name]
        interval = task.interval(self._owner)
        if not task.at_start:
            await asyncio.sleep(interval)
        while True:
            status.rounds += 1
            try:
                await task.run(self._owner)
            except Exception as exc:
                status.failures += 1
                status.last_error = f"{type(exc).__name__}: {exc}"[:200]
                delay = next_delay(interval, status.failures)
                if self.metrics is not None:
                    self.metrics.failed(task.name)
                log.exception(
                    "background task %s failed (%d in a row); next round in %.1fs",
                    task.name,
                    status.failures,
                    delay,
                )
            else:
                status.failures = 0
                status.last_success = time.time()
                if self.metrics is not None:
                    self.metrics.succeeded(task.name, status.last_success)
                delay = interval
            await asyncio.sleep(delay)
