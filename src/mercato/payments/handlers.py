"""Handlers of the events the payments service consumes: none yet.

Payments are driven by calls (the checkout saga charges and refunds over HTTP with
idempotency keys), not by events; the mapping is here so that the service has the
same shape as the others and a consumer can be added in one place.
"""

from __future__ import annotations

from mercato.chassis.runtime import Handler

__all__ = ["HANDLERS"]

HANDLERS: dict[str, Handler] = {}
