"""The proxy path: route, authenticate, rate limit and forward one request, in raw ASGI.

`ProxyDispatch` sits innermost in the middleware stack (behind the chassis
`RequestMiddleware`, which has set the request context and bounds the body) and
takes every `/api/...` and `/.well-known/jwks.json` request, and with a storefront
every path but the gateway's own, straight to `Proxy`, bypassing Starlette's
router; the gateway's own paths (health, metrics) go on to the router. On a
storefront's path the gateway's own refusals are small HTML pages (`pages`).

For each request `Proxy` (a method per step):

1. finds the service's route (404 problem for an unknown service): `_route`;
2. rewrites the headers in a single pass: hop-by-hop and forwarding headers and any
   client-sent `X-Mercato-*` identity header are dropped; `X-Forwarded-For/-Proto/-Host`,
   `x-request-id` and `traceparent` are set; an `Idempotency-Key` makes a write
   retryable only on the routes that honour one (`keyed_routes`): `_rewrite_headers`;
3. verifies a bearer token if one is sent (no token: the service decides);
4. takes a token from the client's bucket and, for a write by a user, from the
   user's bucket; over the limit is a 429 with Retry-After (checked before a bad
   token's 401, so forged tokens are rate limited too): steps 3 and 4 are `_admit`;
5. forwards the original `Authorization` plus `X-Mercato-User-Id` and
   `X-Mercato-Roles` (and, to auth, its own service token in `X-Mercato-Proxy-Token`,
   which proves its `X-Forwarded-For`: `chassis.security.client_addresses`), reads the body
   fully, and relays the answer (`_forward`, then `relay.relay`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from mercato.chassis.security.client_addresses import PROXY_TOKEN_HEADER, ClientAddresses
from mercato.chassis.security.tokens import Principal, TokenVerifier, bearer_token
from mercato.chassis.telemetry import trace_context
from mercato.chassis.web.errors import (
    NotFound,
    ProblemError,
    TooManyRequests,
    Unauthorized,
    problem_response,
)
from mercato.gateway.forward import IDEMPOTENT_METHODS, Forwarder
from mercato.gateway.headers import (
    IDENTITY_PREFIX,
    NO_STORE_RESPONSE_DROPPED,
    REQUEST_DROPPED,
    RESPONSE_DROPPED,
)
from mercato.gateway.pages import problem_page
from mercato.gateway.ratelimit import Bucket, CostlyCalls, RateLimiter
from mercato.gateway.relay import relay
from mercato.gateway.routing import Route, RoutePatterns, RouteTable

__all__ = ["WRITE_METHODS", "CostlyCalls", "Proxy", "ProxyDispatch"]

log = logging.getLogger("mercato.gateway")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Services that need the client's address (auth throttles logins by it, the storefront
# passes it on to auth): requests to them carry the gateway's service token as proof
# of its X-Forwarded-For.
PROOF_SERVICES = frozenset({"auth", "web"})


class Proxy:
    """The gateway's proxy: an ASGI app for the paths of `RouteTable.handles`."""

    def __init__(
        self,
        *,
        routes: RouteTable,
        forwarder: Forwarder,
        verifier: TokenVerifier,
        limiter: RateLimiter,
        addresses: ClientAddresses,
        client_limit: tuple[float, float] = (50.0, 100.0),
        user_limit: tuple[float, float] = (20.0, 40.0),
        keyed_routes: RoutePatterns | None = None,
        costly_routes: RoutePatterns | None = None,
        costly_per_client: int = 0,
        internal_routes: RoutePatterns | None = None,
        registry: CollectorRegistry | None = None,
        proof: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.routes = routes
        self.keyed_routes = keyed_routes or RoutePatterns(())
        self.internal_routes = internal_routes or RoutePatterns(())
        self.costly = CostlyCalls(costly_routes or RoutePatterns(()), costly_per_client)
        self.forwarder = forwarder
        self.verifier = verifier
        self.limiter = limiter
        self.addresses = addresses
        self.proof = proof
        self.no_store_route = routes.routes.get("auth")  # SecurityHeaders: /api/auth
        # The origins of every instance: no answer may name one to a client.
        self.inside = tuple(
            instance.url.encode() for pool in routes.pools() for instance in pool.instances
        )
        self.client_limit = client_limit if client_limit[0] > 0 else None
        self.user_limit = user_limit if user_limit[0] > 0 else None
        self.rejected = Counter(
            "gateway_rejected_total",
            "Requests the gateway answered itself, by reason.",
            ["reason"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        route = self._route(scope, method, path)
        if isinstance(route, ProblemError):
            await _problem(scope, receive, send, route)
            return
        headers, authorization, client, idempotent, has_body = self._rewrite_headers(
            scope, method, path
        )
        caller = await self._admit(client, authorization, method)
        if isinstance(caller, ProblemError):
            await _problem(scope, receive, send, caller)
            return
        if caller is not None:
            headers.append(("X-Mercato-User-Id", caller.subject))
            headers.append(("X-Mercato-Roles", ",".join(sorted(caller.roles))))
        if self.proof is not None and route.service in PROOF_SERVICES:
            proof = await self._proof(route.service)
            if proof:
                headers.append((PROXY_TOKEN_HEADER, proof))
        body = None
        if has_body:
            body = await _read_body(receive)
            if body is None:
                self.rejected.labels("client_gone").inc()
                return
        await self._forward(scope, receive, send, route, headers, body, client, idempotent)

    def _route(self, scope: Scope, method: str, path: str) -> Route | ProblemError:
        """The service's route (kept in the scope), or the 404 of an unknown or internal path."""
        route = self.routes.match(path)
        if route is None:
            self.rejected.labels("not_found").inc()
            return NotFound(f"No service serves {path}.")
        scope["route"] = route
        if self.internal_routes and self.internal_routes.match(method, path):
            self.rejected.labels("internal").inc()
            return NotFound(f"Nothing is served at {path}.")
        return route

    def _rewrite_headers(
        self, scope: Scope, method: str, path: str
    ) -> tuple[list[tuple[str, str]], bytes | None, str, bool, bool]:
        """The headers to forward, in one pass over the client's; with what the pass found.

        Hop-by-hop and forwarding headers (and those `Connection` names) and any
        client-sent identity header are dropped; the forwarding, request id and trace
        headers are the gateway's own. Returns the headers, the `Authorization` value,
        the client's address, whether the request may be retried (an idempotent method,
        or an `Idempotency-Key` on a route that keeps its promise) and whether it has a
        body. One flat loop (a branch per header name): it runs for every request.
        """
        headers: list[tuple[str, str]] = []
        authorization = connection = forwarded_for = forwarded_proto = forwarded_host = None
        host = b""
        idempotent = method in IDEMPOTENT_METHODS
        has_body = False
        for name, value in scope["headers"]:
            if name in REQUEST_DROPPED:
                if name == b"content-length":
                    has_body = value != b"0"
                elif name == b"transfer-encoding":
                    has_body = True
                elif name == b"host":
                    host = value
                elif name == b"connection":
                    connection = value
                elif name == b"x-forwarded-for":
                    forwarded_for = value
                elif name == b"x-forwarded-proto":
                    forwarded_proto = value
                elif name == b"x-forwarded-host":
                    forwarded_host = value
                continue
            if name.startswith(IDENTITY_PREFIX):
                continue
            if name == b"authorization":
                authorization = value
            elif name == b"idempotency-key" and not idempotent:
                # Retried only where the service keeps the key's promise.
                idempotent = self.keyed_routes.match(method, path)
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
        if connection is not None:
            named = {t.strip().lower() for t in connection.decode("latin-1").split(",")}
            headers = [h for h in headers if h[0] not in named]
        client = self._add_forwarded(
            headers, scope, host, forwarded_for, forwarded_proto, forwarded_host
        )
        ctx = trace_context.current()
        if ctx is not None:
            headers.append(("x-request-id", ctx.request_id))
            headers.append(("traceparent", ctx.traceparent))
        return headers, authorization, client, idempotent, has_body

    def _add_forwarded(
        self,
        headers: list[tuple[str, str]],
        scope: Scope,
        host: bytes,
        forwarded_for: bytes | None,
        forwarded_proto: bytes | None,
        forwarded_host: bytes | None,
    ) -> str:
        """Append `X-Forwarded-For/-Proto/-Host`; the client's address.

        The client's own forwarding headers count only from a trusted proxy
        (`chassis.security.client_addresses`): from anyone else the peer is the client.
        """
        peer = scope["client"][0] if scope.get("client") else ""
        client = peer
        scheme: str = scope.get("scheme", "http")
        chain = peer
        forwarded = forwarded_for is not None or forwarded_proto or forwarded_host
        if forwarded and self.addresses.is_trusted(peer):
            xff = forwarded_for.decode("latin-1") if forwarded_for else ""
            client = self.addresses.client(peer, xff)
            chain = f"{xff}, {peer}" if xff else peer
            scheme = forwarded_proto.decode("latin-1") if forwarded_proto else scheme
            host = forwarded_host or host
        headers.append(("X-Forwarded-For", chain))
        headers.append(("X-Forwarded-Proto", scheme))
        if host:
            headers.append(("X-Forwarded-Host", host.decode("latin-1")))
        return client

    async def _admit(
        self, client: str, authorization: bytes | None, method: str
    ) -> Principal | ProblemError | None:
        """The caller a bearer token proves (None: no token), or why the request is refused.

        A 429 with Retry-After when the client's bucket (or, for a write, the user's)
        is empty, else a 401 for a token that does not verify: the limits come first,
        so that forged tokens are rate limited too. Without a token the service decides.
        """
        principal: Principal | None = None
        refused: ProblemError | None = None
        if authorization is not None:
            try:
                token = bearer_token(authorization.decode("latin-1"))
                principal = await self.verifier.verify(token)
            except ProblemError as exc:
                refused = exc
        buckets: list[Bucket] = []
        if self.client_limit is not None:
            buckets.append(Bucket(f"client:{client}", *self.client_limit))
        if self.user_limit is not None and principal is not None and method in WRITE_METHODS:
            buckets.append(Bucket(f"user:{principal.subject}", *self.user_limit))
        wait = await self.limiter.acquire(buckets) if buckets else 0.0
        if wait > 0.0:
            self.rejected.labels("rate_limited").inc()
            retry_after = str(max(1, math.ceil(wait)))
            return TooManyRequests(
                "Too many requests; slow down.", headers={"Retry-After": retry_after}
            )
        if refused is not None:
            self.rejected.labels("unauthorized").inc()
            return refused if isinstance(refused, Unauthorized) else Unauthorized(refused.detail)
        return principal

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        headers: list[tuple[str, str]],
        body: bytes | None,
        client: str,
        idempotent: bool,
    ) -> None:
        """Send the request to the route's service and relay its answer (or the problem).

        A costly request (a login) beyond the client's share under way is refused first.
        """
        method: str = scope["method"]
        path: str = scope["path"]
        raw_path: bytes | None = scope.get("raw_path")
        target = raw_path.split(b"?", 1)[0].decode("latin-1") if raw_path else quote(path)
        query: bytes = scope.get("query_string", b"")
        if query:
            target = f"{target}?{query.decode('latin-1')}"
        costly = self.costly.begin(method, path, client)
        if costly is False:
            self.rejected.labels("concurrency").inc()
            error = TooManyRequests(
                "Too many of these requests at once from your address; wait for one to end.",
                headers={"Retry-After": "1"},
            )
            await _problem(scope, receive, send, error)
            return
        try:
            outcome = await self.forwarder.exchange(
                route,
                method,
                target,
                headers,
                body,
                idempotent=idempotent,
                timeout=route.timeout_for(path),
            )
        finally:
            if costly:
                self.costly.end(client)
        if isinstance(outcome, ProblemError):
            await _problem(scope, receive, send, outcome)
            return
        dropped = NO_STORE_RESPONSE_DROPPED if route is self.no_store_route else RESPONSE_DROPPED
        await relay(send, outcome, head=method == "HEAD", dropped=dropped, inside=self.inside)

    async def _proof(self, service: str) -> str | None:
        """The gateway's service token for `service` (cached), None if auth refused it."""
        assert self.proof is not None
        try:
            return await self.proof(service)
        except ProblemError as exc:  # the service then counts the gateway as the client
            log.warning("no service token for %s to prove X-Forwarded-For: %s", service, exc)
            return None


class ProxyDispatch:
    """Middleware sending proxied paths to `proxy` and everything else to `app`."""

    def __init__(self, app: ASGIApp, *, proxy: Proxy) -> None:
        self.app = app
        self.proxy = proxy
        self.handles = proxy.routes.handles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.handles(scope["path"]):
            await self.proxy(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body (the request middleware bounds its size).

    None when the client went away (or its body stopped arriving) before the end:
    a part of a body is never forwarded as if it were the whole.
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _problem(scope: Scope, receive: Receive, send: Send, error: ProblemError) -> None:
    """The problem document, or on a storefront's path its page (`gateway.pages`)."""
    if RouteTable.is_page(scope["path"]):
        await problem_page(error)(scope, receive, send)
    else:
        await problem_response(error)(scope, receive, send)
