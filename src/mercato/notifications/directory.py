"""Where a user's mail goes when `user.registered` never reached this service.

The recipients table is filled from `user.registered`. A user who registered before
the service was deployed, or before the broker's retention, has no row; for them the
service asks the users service once (`GET /api/users/{id}` with a service token,
balanced over `users_url`'s instances) and keeps the answer as a recipient, so every
later mail is local again. Unset `users_url`: no lookup (the event is retried until
`user.registered` arrives, then dead-lettered).

Users down or slow holds the event (retried, never dead-lettered for it); users
refusing the service's token (401/403) is a deployment's mistake, not an outage: the
event is retried to its bound and dead-lettered, to be replayed once the credentials
or the network policy are put right.

The ServiceClient is the runtime's (its service tokens, TLS and metrics), known only
once the service starts: `attach` gives it to the directory then.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from mercato.chassis.client.balancing import Pool
from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from mercato.chassis.events import DependencyUnavailable

__all__ = ["Directory", "LookupRefused", "Profile"]

log = logging.getLogger("mercato.notifications.directory")

USERS = "users"


class Profile(BaseModel):
    """What notifications reads of a user's profile: where and how to write to them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    email: str
    name: str = ""


class LookupRefused(Exception):
    """The users service refused this service's credentials (401 or 403)."""


class Directory:
    """The users service's profiles, asked for a recipient this service does not know."""

    def __init__(self, urls: tuple[str, ...], *, timeout: float) -> None:
        self.pool = Pool(USERS, urls) if urls else None
        self.timeout = timeout
        self.http: ServiceClient | None = None

    def attach(self, http: ServiceClient) -> None:
        """Use `http` (the running service's client) for the lookups."""
        self.http = http

    async def lookup(self, user_id: str) -> Profile | None:
        """`user_id`'s profile; None if users has none or no users service is set.

        DependencyUnavailable when users cannot answer now (down, slow, an answer
        outside its contract): the event is retried later and never dead-lettered
        for it. LookupRefused when users refuses the service token.
        """
        if self.pool is None or self.http is None:
            return None
        try:
            response = await self.http.request(
                "GET",
                f"/api/users/{quote(user_id, safe='')}",
                target=USERS,
                pool=self.pool,
                timeout=self.timeout,
            )
        except (ServiceUnavailableError, ServiceTimeoutError) as exc:
            raise DependencyUnavailable(f"the users service is unavailable: {exc}") from exc
        if response.status == 404:
            return None
        if response.status in (401, 403):
            log.error(
                "the users service refused notifications' service token (%d): "
                "check the signing keys and the users service's audience",
                response.status,
            )
            raise LookupRefused(f"the users service refused the lookup ({response.status})")
        if response.status != 200:
            raise DependencyUnavailable(f"the users service answered {response.status}")
        try:
            return Profile.model_validate_json(response.body)
        except ValidationError as exc:
            log.warning("the users service answered outside its contract: %s", exc)
            raise DependencyUnavailable("the users service answered outside its contract") from exc
