"""What a process knows of its broker: checked in the background, shown, never decisive.

No request needs the broker: a change's events wait in the outbox until the relay
can publish them, and a consumer catches up with what it missed. So the broker is
not part of readiness (`chassis.web.health`): with every pod's readiness on the
broker, a broker pause of ten seconds takes every pod out of its Service, and the
whole shop answers 503 while it could have served.

An operator still has to see it. `BrokerWatch.check` asks the broker (`ping`, at
most `timeout` seconds) and keeps the outcome: `ok`, `timeout` or `error: ...`
(`connecting` before the first check). The runtime runs it every few seconds
beside its metrics sampler; the outcome is in the process's `/health/ready` under
`reported` (which the gateway's detailed `/health` shows per instance) and in the
gauge `events_broker_up{service}`. Asked in the background rather than in the
probe, it never makes a readiness answer slow either: a probe's own timeout
(Kubernetes' is one second by default) would otherwise fail it all the same.
"""

from __future__ import annotations

import asyncio
import logging

from mercato.chassis.events.bus import EventBus
from mercato.chassis.telemetry.event_metrics import BrokerMetrics

__all__ = ["BrokerWatch"]

log = logging.getLogger("mercato.events")
CONNECTING = "connecting"


class BrokerWatch:
    """The outcome of the latest check of one bus's broker."""

    def __init__(
        self, bus: EventBus, metrics: BrokerMetrics | None = None, *, timeout: float = 2.0
    ) -> None:
        self.bus = bus
        self.metrics = metrics
        self.timeout = timeout
        self.status = CONNECTING

    async def check(self) -> str:
        """Ask the broker once; the outcome (also kept in `status`)."""
        try:
            async with asyncio.timeout(self.timeout):
                await self.bus.ping()
        except TimeoutError:
            status = "timeout"
        except Exception as exc:
            status = f"error: {exc or type(exc).__name__}"[:200]
        else:
            status = "ok"
        if (status == "ok") != (self.status == "ok") and self.status != CONNECTING:
            level = logging.INFO if status == "ok" else logging.WARNING
            log.log(level, "the broker's check: %s (was %s)", status, self.status)
        self.status = status
        if self.metrics is not None:
            self.metrics.answered(status == "ok")
        return status
