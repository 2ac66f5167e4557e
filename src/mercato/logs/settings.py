"""Settings of the logs service (`MERCATO_LOGS_*`, then `MERCATO_*`)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from mercato.chassis import config
from mercato.chassis.config import ServiceSettings

__all__ = ["LogsSettings", "load_settings"]


class LogsSettings(ServiceSettings):
    """The logs service's settings: its port, how long events are kept, the dead letters."""

    port: int = Field(default=8160, ge=0, le=65535)
    retention_days: int = Field(
        default=90, ge=0, description="Delete events older than this; 0 keeps them forever."
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the retention task runs."
    )
    dead_letters_broker_url: str = Field(
        default="",
        description=(
            "The broker URL of the dead-letter API's user (`mercato-dead-letters`, which may "
            "list and replay dead letters); empty: the API answers 503."
        ),
    )
    dead_letters_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="The deadline of one dead-letter call on the broker."
    )


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> LogsSettings:
    """Read the logs service's settings from the environment, then `overrides`."""
    return config.load_settings(LogsSettings, "logs", environ, **overrides)
