"""The gateway's wiring: its spec, and the chassis' app factory with the gateway's edge.

The gateway is built like every service (`chassis.web.app.create_app`: problem+json
errors, health probes, metrics, a lifespan over its `Runtime`), with no database,
the bus only for `auth.token_revoked`, no OpenAPI document of its own, and its
`GatewayEdge` (`gateway.edge`) in front: the proxy and the layers around it.
"""

from __future__ import annotations

from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.security.tokens import JwksKeySource, KeySource
from mercato.chassis.web.app import ServiceApp
from mercato.chassis.web.app import create_app as create_service_app
from mercato.chassis.web.errors import ProblemError
from mercato.gateway.edge import GatewayEdge, GatewayRuntime
from mercato.gateway.routing import JWKS_PATH
from mercato.gateway.settings import GatewaySettings, load_settings

__all__ = ["SPEC", "create_app"]


def _auth_keys(runtime: GatewayRuntime) -> KeySource:
    """Auth's JWKS, fetched from the auth pool's instances in turn (first answer wins)."""
    settings = runtime.settings
    origins = settings.pools().get("auth") or (settings.auth_url.rstrip("/"),)
    urls = [origin + JWKS_PATH for origin in origins]

    async def fetch(_: str) -> bytes:
        error: Exception = RuntimeError("no auth instance")
        for url in urls:
            try:
                response = await runtime.http.get(url, target="auth", auth=False, timeout=3.0)
                response.raise_for_status()
            except ProblemError as exc:
                error = exc
                continue
            return response.body
        raise error

    return JwksKeySource(urls[0], fetch)


SPEC: ServiceSpec[GatewaySettings, None] = ServiceSpec(
    name="gateway",
    title="Mercato gateway",
    description="The public entry point: routing, edge authentication, rate limits.",
    uses_database=False,
    uses_bus=True,
    key_source=_auth_keys,
    documented=False,  # it serves the services' documents, not one of its own
)


def create_app(
    settings: GatewaySettings | None = None, *, configure_logs: bool = True
) -> ServiceApp:
    """Build the gateway's ASGI app."""
    return create_service_app(
        SPEC, settings or load_settings(), [], configure_logs=configure_logs, edge=GatewayEdge
    )
