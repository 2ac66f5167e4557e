"""What the storefront shares in a process: the backend, the sessions, the templates.

Built once at start by `open_context` (the spec's `context`) and reached by pages
through the `Shopper` (`shopper.ctx`) or `request.app.state.runtime.context`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mercato.chassis.runtime import Runtime
from mercato.web.api.backend import Backend
from mercato.web.assets import Assets, static_assets
from mercato.web.public_reads import PublicReads
from mercato.web.rendering import Templates
from mercato.web.sessions import Sessions
from mercato.web.settings import BACKENDS, WebSettings

__all__ = ["WebContext", "WebRuntime", "open_context"]


@dataclass(frozen=True, slots=True)
class WebContext:
    """The storefront's shared parts."""

    settings: WebSettings
    backend: Backend
    sessions: Sessions
    templates: Templates
    public: PublicReads  # the catalog's public answers, kept a few seconds


WebRuntime = Runtime[WebSettings, WebContext]


def build_context(runtime: WebRuntime, assets: Assets) -> WebContext:
    """The context of `runtime` (its HTTP client, database and settings)."""
    settings = runtime.settings
    backend = Backend(
        runtime.http,
        {name: settings.instances(name) for name in BACKENDS},
        timeout=settings.api_timeout_seconds,
        proof=runtime.tokens,
    )
    return WebContext(
        settings=settings,
        backend=backend,
        sessions=Sessions(runtime.database, settings),
        templates=Templates(assets, shop_name=settings.shop_name),
        public=PublicReads(backend, ttl=settings.catalog_cache_seconds),
    )


@asynccontextmanager
async def open_context(runtime: WebRuntime) -> AsyncIterator[WebContext]:
    """The spec's context: built at start; nothing of its own to close."""
    yield build_context(runtime, static_assets())
