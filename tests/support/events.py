"""Event data of types no service owns, for the chassis's event tests.

`Outbox.add` takes the data of one event, whose class says its type and version.
The chassis's own tests write events of made-up types (`a.b`, `demo.placed`) that
no contract registers, so consumers take them without a schema to check.
"""

from __future__ import annotations

from mercato.contracts.events import EventData


class Sample(EventData):
    """`a.b` v1: a bare event, when only its envelope matters."""

    TYPE = "a.b"


class DemoPlaced(EventData):
    """`demo.placed` v1: a numbered event of a made-up type."""

    TYPE = "demo.placed"

    n: int = 0


class ProfileUpdatedV2(EventData):
    """`user.profile_updated` v2, a version no contract registers yet."""

    TYPE = "user.profile_updated"
    VERSION = 2

    changed: list[str]
