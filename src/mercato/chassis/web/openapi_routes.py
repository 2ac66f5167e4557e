"""Who may call a route, read off the route itself: what its OpenAPI operation says.

A route needs a token when one of its dependencies, at any depth, is
`security.tokens.authenticated` (`CurrentUser`, and the guards built on it:
`Admin`, `AdminOrService`, `UserCaller`, or a service's own dependency taking
one of them), or when its endpoint calls `authenticated` itself, as a direct route
does (it has no dependencies). A guard of the chassis also refuses some tokens
(403), for the reason given in `GUARDS`. A route that only looks at a token when
one is sent (the catalog's reads, to show an admin more) calls something else and
stays public.

Derived rather than declared, the document cannot say a route is public when it
is not; the tests send every operation a request without a token to hold that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FunctionType
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from mercato.chassis.security.tokens import (
    authenticated,
    require_admin,
    require_admin_or_service,
    require_user,
)

__all__ = ["BEARER", "GUARDS", "SECURITY_SCHEME", "Caller", "caller_of"]

BEARER = "bearerAuth"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token (RS256 JWT) from `POST /api/auth/login` or "
    "`POST /api/auth/refresh`; a service's from `POST /api/auth/token`.",
}
GUARDS: dict[Callable[..., Any], str] = {
    require_admin: "The token is not an administrator's.",
    require_admin_or_service: "The token is neither an administrator's nor a service's.",
    require_user: "A service token: this needs a user's (a service has no account).",
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a route takes: whether it needs a token, and why a guard may refuse one."""

    secured: bool = False
    refusal: str | None = None


def caller_of(route: APIRoute) -> Caller:
    """What `route` asks of its caller (see the module)."""
    called = [*_dependencies(route.dependant), *_called_by(route.endpoint)]
    refusal = next((why for guard, why in GUARDS.items() if guard in called), None)
    return Caller(secured=authenticated in called, refusal=refusal)


def _dependencies(dependant: Dependant) -> Iterator[Any]:
    """Every callable `dependant` depends on, at any depth."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependencies(dependency)


def _called_by(endpoint: Callable[..., Any]) -> list[FunctionType]:
    """The module-level functions `endpoint`'s own code names (what a direct route calls)."""
    code = getattr(endpoint, "__code__", None)
    namespace: dict[str, Any] = getattr(endpoint, "__globals__", {})
    if code is None:
        return []
    named = (namespace.get(name) for name in code.co_names)
    return [value for value in named if isinstance(value, FunctionType)]
