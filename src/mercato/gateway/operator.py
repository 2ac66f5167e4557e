"""What is for operators stays off the public port: metrics, detailed health, API docs.

The gateway is the only public door, and its public port serves the API, the JWKS
and a `/health` that says which service is ready without naming an instance. The
rest is for the people who run the system:

    /metrics                                   Prometheus
    /health (detailed: every instance)         a person on call
    /api/<service>/openapi.json                a service's OpenAPI document
    /api/<service>/docs, /api/<service>/docs/* its Swagger UI, ReDoc and their assets
    /asyncapi.json                             the events' AsyncAPI document

`OperatorGate` serves those on the operator port (`operator_port`, which a
platform exposes to its monitoring and nothing else), and on the public port to an
administrator's token when `operator_admins` is on. The API documents stay public
when `public_docs` is on (the default in development, off in production). Anyone
else gets the 404 of a path that is not served: the public port does not say
what it hides. A request the gate lets through carries `OPERATOR_SCOPE_KEY`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from mercato.chassis.security.tokens import TokenVerifier, bearer_token
from mercato.chassis.web.errors import NotFound, ProblemError, problem_response

__all__ = ["ASYNCAPI_PATH", "OPERATOR_SCOPE_KEY", "OperatorGate", "operator_path"]

OPERATOR_SCOPE_KEY = "mercato.operator"
ASYNCAPI_PATH = "/asyncapi.json"
_DOCS_SUFFIXES = ("/docs", "/openapi.json", "/docs/oauth2-redirect")


def operator_path(path: str) -> str | None:
    """What an operator's path is (`metrics`, `health`, `docs`), or None for any other."""
    if path == "/metrics":
        return "metrics"
    if path == "/health":
        return "health"
    if path == ASYNCAPI_PATH or _is_api_docs(path):
        return "docs"
    return None


def _is_api_docs(path: str) -> bool:
    """Whether `path` is a service's document or one of its docs' pages and assets."""
    if not path.startswith("/api/"):
        return False
    if path.endswith(_DOCS_SUFFIXES):
        return True
    _, _, within = path[len("/api/") :].partition("/")  # after /api/<service>/
    return within.startswith("docs/")


class OperatorGate:
    """Pure-ASGI middleware keeping the operators' paths to operators (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        operator_port: int = 0,
        operator_admins: bool = True,
        public_docs: bool = False,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.operator_port = operator_port
        self.operator_admins = operator_admins
        self.public_docs = public_docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = operator_path(scope["path"]) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        if await self._is_operator(scope):
            scope[OPERATOR_SCOPE_KEY] = True
        elif kind == "metrics" or (kind == "docs" and not self.public_docs):
            error = NotFound(f"Nothing is served at {scope['path']}.")
            await problem_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _is_operator(self, scope: Scope) -> bool:
        server = scope.get("server")
        if self.operator_port and server and server[1] == self.operator_port:
            return True
        if not self.operator_admins:
            return False
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if authorization is None:
            return False
        try:
            principal = await self.verifier.verify(bearer_token(authorization.decode("latin-1")))
        except ProblemError:
            return False
        return principal.is_admin
