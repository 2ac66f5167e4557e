"""What a page raises when it cannot go on, rendered by `error_pages`.

    SignInRequired   the page is for signed-in shoppers, or their sign-in has ended:
                     a redirect to the login page, which brings them back (`next`)
    PageNotFound     the thing the page shows does not exist (or is not the shopper's)

A service's refusal or absence is the API's own (`api.ApiError`, `api.BackendDown`);
a page lets `BackendDown` propagate to get the 503 page that names the part of the
shop that is unavailable.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

__all__ = ["PageNotFound", "SignInRequired", "local_path"]


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path of this site, else `default` (no open redirect).

    A path of this site starts with one `/` and holds no backslash, scheme or
    control character: `//evil.example` and `/\\evil.example` are other sites to a
    browser.
    """
    if not target or len(target) > 2000:
        return default
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    return target


class SignInRequired(Exception):
    """The shopper must sign in (again) to see this page."""

    def __init__(self, request: Request, *, ended: bool = False) -> None:
        super().__init__("sign in required")
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        self.next = local_path(here) if request.method == "GET" else "/"
        self.ended = ended

    @property
    def location(self) -> str:
        """The login page, with where to come back to."""
        return "/login?" + urlencode({"next": self.next})


class PageNotFound(Exception):
    """What the page would show is not there: a 404 page saying so."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or "We could not find that page.")
        self.detail = detail or "We could not find that page."
