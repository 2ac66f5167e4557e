"""Settings of the users service (`MERCATO_USERS_*`, then `MERCATO_*`)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from mercato.chassis import config
from mercato.chassis.config import ServiceSettings

__all__ = ["UsersSettings", "load_settings"]


class UsersSettings(ServiceSettings):
    """The users service's settings: the shared ones with its own default port."""

    port: int = Field(default=8120, ge=0, le=65535)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> UsersSettings:
    """Read the users service's settings from the environment, then `overrides`."""
    return config.load_settings(UsersSettings, "users", environ, **overrides)
