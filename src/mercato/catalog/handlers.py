"""Events the catalog consumes: none yet.

The catalog is a producer (`product.*`). Stock reservations for checkout arrive as
HTTP calls from orders rather than events; a handler added here is registered by
naming it in `HANDLERS` (event type to `async def on_x(session, event)`).
"""

from __future__ import annotations

from collections.abc import Mapping

from mercato.chassis.runtime import Handler

__all__ = ["HANDLERS"]

HANDLERS: Mapping[str, Handler] = {}
