"""Unit tests of which paths the gateway keeps to operators (`gateway.operator`)."""

from __future__ import annotations

import pytest

from mercato.gateway.operator import operator_path


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/metrics", "metrics"),
        ("/health", "health"),
        ("/asyncapi.json", "docs"),
        ("/api/catalog/openapi.json", "docs"),
        ("/api/catalog/docs", "docs"),
        ("/api/catalog/docs/redoc", "docs"),
        ("/api/catalog/docs/oauth2-redirect", "docs"),
        ("/api/catalog/docs/assets/swagger-ui-dist/swagger-ui-bundle.js", "docs"),
        ("/api/catalog/docs/assets/redoc/LICENSE", "docs"),
    ],
)
def test_operator_paths(path: str, kind: str) -> None:
    assert operator_path(path) == kind


@pytest.mark.parametrize(
    "path",
    [
        "/api/catalog/products",
        "/api/catalog/products/docs-and-more",
        "/api/orders/documents",
        "/health/ready",
        "/asyncapi.yaml",
        "/api/asyncapi.json",
        "/.well-known/jwks.json",
    ],
)
def test_every_other_path_is_the_apis(path: str) -> None:
    assert operator_path(path) is None
