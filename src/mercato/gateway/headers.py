"""Header policy at the edge: hop-by-hop headers, client addresses, security headers.

- Hop-by-hop headers (RFC 9110 §7.6.1, plus any named in `Connection`) are never
  forwarded in either direction; `Host` and `Content-Length` are recomputed.
- The client's address is the peer of the connection. `X-Forwarded-For` (and the
  other forwarding headers) sent by a client are believed only when the peer is one
  of `trusted_proxies`; then the client is the right-most untrusted address (the
  rule is the chassis's, `mercato.chassis.security.client_addresses`).
- `SecurityHeaders` is the outermost middleware, so every answer carries
  `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy`, HSTS when enabled,
  and `Cache-Control: no-store` under `/api/auth`, including errors made by inner
  middleware. The storefront's pages get `Referrer-Policy: same-origin` rather than
  `no-referrer`: under `no-referrer` a browser sends `Origin: null` with a form's
  POST, and the storefront checks a post's `Origin` against CSRF.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "HOP_BY_HOP",
    "NO_STORE_RESPONSE_DROPPED",
    "REQUEST_DROPPED",
    "RESPONSE_DROPPED",
    "SECURITY_HEADER_NAMES",
    "SecurityHeaders",
]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Request headers the gateway never passes on as sent: recomputed, or its own to set.
REQUEST_DROPPED = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"expect",
    b"x-request-id",
    b"traceparent",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"forwarded",
    b"x-real-ip",
}
SECURITY_HEADER_NAMES = frozenset(
    {
        b"x-content-type-options",
        b"x-frame-options",
        b"referrer-policy",
        b"strict-transport-security",
    }
)
# Response headers of an upstream that the gateway's own replace (SecurityHeaders then
# appends its headers without searching for an upstream's).
RESPONSE_DROPPED = (
    HOP_BY_HOP
    | SECURITY_HEADER_NAMES
    | {
        b"content-length",
        b"date",
        b"server",
        b"x-request-id",
    }
)
NO_STORE_RESPONSE_DROPPED = RESPONSE_DROPPED | {b"cache-control"}
IDENTITY_PREFIX = b"x-mercato-"


class SecurityHeaders:
    """Pure-ASGI middleware adding the security headers to every response.

    The headers are appended without looking for existing ones: the gateway's own
    answers carry none, and the proxy drops an upstream's (`RESPONSE_DROPPED`, and
    `Cache-Control` too under `/api/auth`), which keeps the hot path to one list copy.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool = False,
        no_store_prefix: str = "/api/auth",
        is_page: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts:
            common.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.headers = [*common, (b"referrer-policy", b"no-referrer")]
        self.no_store_headers = [*self.headers, (b"cache-control", b"no-store")]
        self.page_headers = [*common, (b"referrer-policy", b"same-origin")]
        self.no_store_prefix = no_store_prefix
        self.is_page = is_page

    def _no_store(self, path: str) -> bool:
        prefix = self.no_store_prefix
        return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        no_store = self._no_store(path)
        extra = self.no_store_headers if no_store else self.headers
        if self.is_page is not None and self.is_page(path):
            extra = self.page_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                if no_store:  # the request middleware may have marked it already
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                message["headers"] = [*headers, *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
