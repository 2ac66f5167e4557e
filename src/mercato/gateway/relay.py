"""Relaying an upstream's answer to the client, the last step of the proxy path.

The status and body go on as the service sent them. Hop-by-hop headers and those
the proxy drops for the route (`headers.RESPONSE_DROPPED`, and `Cache-Control`
too under `/api/auth`) do not, nor any header the upstream's `Connection` names;
`Content-Length` is the gateway's own (a `HEAD` keeps the upstream's). A
`Location` naming an instance's own origin is made relative, so that a client never
learns an internal host or port.
"""

from __future__ import annotations

from starlette.types import Send

from mercato.gateway.upstream import Answer

__all__ = ["relay"]

_NO_BODY_STATUSES = frozenset({204, 304})


async def relay(
    send: Send,
    answer: Answer,
    *,
    head: bool,
    dropped: frozenset[bytes],
    inside: tuple[bytes, ...],
) -> None:
    """Send an upstream's answer on, minus hop-by-hop headers and those in `dropped`.

    A `Location` naming an instance's own origin (`inside`) is made relative: the
    client sees the gateway's paths, never an internal host or port.
    """
    headers: list[tuple[bytes, bytes]] = []
    length: bytes | None = None
    named: set[bytes] | None = None
    for name, value in answer.headers:
        lowered = name.lower()
        if lowered in dropped:
            if lowered == b"content-length":
                length = value
            elif lowered == b"connection":
                named = {t.strip().lower() for t in value.split(b",")}
            continue
        if lowered == b"location" and value.startswith(inside):
            headers.append((lowered, _relative(value, inside)))
        else:
            headers.append((lowered, value))
    if named:
        headers = [h for h in headers if h[0] not in named]
    if head:
        if length is not None:
            headers.append((b"content-length", length))
    elif answer.status not in _NO_BODY_STATUSES and answer.status >= 200:
        headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else answer.body})


def _relative(location: bytes, inside: tuple[bytes, ...]) -> bytes:
    """`location` without the internal origin it starts with, as a path from the root."""
    for origin in inside:
        rest = location[len(origin) :]
        if location.startswith(origin) and (not rest or rest[:1] in (b"/", b"?", b"#")):
            return rest if rest.startswith(b"/") else b"/" + rest
    return location  # another port that merely begins like an instance's
