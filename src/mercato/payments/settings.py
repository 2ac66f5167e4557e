"""Settings of the payments service (`MERCATO_PAYMENTS_*`, then `MERCATO_*`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from mercato.chassis import config
from mercato.chassis.config import ServiceSettings

__all__ = ["PaymentsSettings", "load_settings"]


class PaymentsSettings(ServiceSettings):
    """The payments service's settings: the shared ones and the provider's."""

    port: int = Field(default=8150, ge=0, le=65535)
    provider: Literal["simulated"] = Field(
        default="simulated", description="Which payment provider charges cards."
    )
    provider_timeout_seconds: float = Field(
        default=3.0, gt=0, le=120, description="Deadline of every provider call."
    )
    charge_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long an unfinished charge or refund belongs to its first attempt "
        "before a retry with the same Idempotency-Key may finish it.",
    )

    reconcile_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often charges whose outcome is unknown (the provider timed out) "
        "are looked up at the provider.",
    )

    @field_validator("charge_lease_seconds")
    @classmethod
    def _lease_outlasts_the_provider(cls, value: float, info: ValidationInfo) -> float:
        """A lease longer than a provider call can take."""
        timeout = info.data.get("provider_timeout_seconds")
        if isinstance(timeout, float) and value <= timeout + 1:
            raise ValueError("must exceed provider_timeout_seconds by more than one second")
        return value


def load_settings(
    environ: Mapping[str, str] | None = None, **overrides: object
) -> PaymentsSettings:
    """Read the payments service's settings from the environment, then `overrides`."""
    return config.load_settings(PaymentsSettings, "payments", environ, **overrides)
