"""The gateway's own answers on the storefront's paths, as small HTML pages.

When the storefront cannot answer (no instance reachable, too slow) or the gateway
refuses a request on a page's path (rate limited, an unknown service), a browser
gets a page that says so, not a problem document: the same status and
`Retry-After`, a heading and a sentence, no script, no style, nothing from elsewhere.
"""

from __future__ import annotations

from html import escape

from starlette.responses import Response

from mercato.chassis.web.errors import ProblemError

__all__ = ["problem_page"]

_HEADINGS = {
    429: "Too many requests",
    502: "The shop is unavailable",
    503: "The shop is unavailable",
    504: "The shop is taking too long",
}
_TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title></head>
<body><main><h1>{heading}</h1><p>{detail}</p><p><a href="/">Try the home page</a></p></main>
</body>
</html>
"""
# Nothing on the page needs anything: not a script, a style or an image.
_POLICY = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"


def problem_page(error: ProblemError) -> Response:
    """The HTML page of a problem the gateway answers on a page's path."""
    heading = _HEADINGS.get(error.status, error.title)
    if error.status in (502, 503, 504):
        detail = "The shop cannot be reached right now. Please try again in a few moments."
    elif error.status == 429:
        detail = "You have sent too many requests. Please wait a moment and try again."
    else:
        detail = error.detail
    body = _TEMPLATE.format(heading=escape(heading), detail=escape(detail))
    headers = {
        **error.headers,
        "Cache-Control": "no-store",
        "Content-Security-Policy": _POLICY,
    }
    return Response(body, status_code=error.status, media_type="text/html", headers=headers)
