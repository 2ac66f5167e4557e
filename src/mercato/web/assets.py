"""The storefront's static files, served under versioned URLs and cached for a year.

Every file of `static/` is read once at start and served at `/static/<stem>.<hash><suffix>`
(`shop.3f2a1b9c0d4e.css`), the hash being the first 12 hex digits of its SHA-256. A
page names a file with `asset("shop.css")`, so a changed file gets a new URL and a
browser may keep each version forever (`Cache-Control: public, max-age=31536000,
immutable`). Any other path under `/static/` is a 404.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["STATIC_DIR", "Asset", "Assets", "static_assets"]

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file: its versioned URL, bytes and media type."""

    url: str
    body: bytes
    media_type: str


class Assets:
    """The files of a directory, by name and by versioned URL."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.by_name: dict[str, Asset] = {}
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            name = path.relative_to(directory).as_posix()
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            stem, dot, suffix = name.rpartition(".")
            versioned = f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"
            media = _TYPES.get(path.suffix) or mimetypes.guess_type(name)[0]
            self.by_name[name] = Asset(
                f"/static/{versioned}", body, media or "application/octet-stream"
            )
        self.by_url = {asset.url: asset for asset in self.by_name.values()}

    def url(self, name: str) -> str:
        """The versioned URL of the file `name` (KeyError for a file that does not exist)."""
        return self.by_name[name].url

    async def endpoint(self, request: Request) -> Response:
        """`GET /static/...`: a file by its versioned URL, cached for a year."""
        asset = self.by_url.get(request.url.path)
        if asset is None:
            raise HTTPException(404)
        headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
        return Response(asset.body, media_type=asset.media_type, headers=headers)


@functools.cache
def static_assets() -> Assets:
    """The storefront's own files, read once per process."""
    return Assets(STATIC_DIR)
