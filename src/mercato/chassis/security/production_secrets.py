"""What production mode accepts as a secret: not empty, not a placeholder, long enough.

One rule for every secret a service is configured with (client secrets, the auth
service's client list, the signing-key passphrase, the password inside a database,
broker or Redis URL, the first admin's password): in production a value is refused
when it is

- empty;
- a development value (`dev-...`, what `ServiceSettings` and the examples default to);
- one of the placeholders the project's own examples contain (`deploy/.env.example`,
  `deploy/k8s/secret.yaml`, the README): any value that still says "change me",
  "replace me" or "placeholder", in any case and with any separators;
- shorter than `MIN_SECRET_LENGTH` characters (a random value of that length from
  `openssl rand -hex 32` or a password manager is far beyond online guessing).

`secret_problem` says why a value is refused (None when it is fine), in words that
never repeat the value: the caller prefixes the variable's name.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = [
    "DEV_SECRET_PREFIX",
    "MIN_SECRET_LENGTH",
    "PLACEHOLDER_MARKERS",
    "is_placeholder",
    "secret_problem",
    "url_password",
]

DEV_SECRET_PREFIX = "dev-"
MIN_SECRET_LENGTH = 16
# Normalised (lower case, letters and digits only) words that mark an example value:
# `dev-change-me`, `CHANGE-ME`, `dev-CHANGE-ME-auth`, `<replace me>`, `placeholder`.
PLACEHOLDER_MARKERS = ("changeme", "replaceme", "placeholder")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def is_placeholder(value: str) -> bool:
    """Whether `value` is a development value or one of the examples' placeholders."""
    if value.lower().startswith(DEV_SECRET_PREFIX):
        return True
    normalised = _NOT_ALNUM.sub("", value.lower())
    return any(marker in normalised for marker in PLACEHOLDER_MARKERS)


def secret_problem(value: str, *, minimum: int = MIN_SECRET_LENGTH) -> str | None:
    """Why production refuses `value` as a secret, or None when it is acceptable."""
    if not value:
        return "must be set in production"
    if is_placeholder(value):
        return "is a development value or an example's placeholder, refused in production"
    if len(value) < minimum:
        return f"must be at least {minimum} characters long in production"
    return None


def url_password(url: str) -> str | None:
    """The password inside `url` (`scheme://user:password@host/...`), or None.

    For a comma-separated list of URLs (a NATS cluster's servers), the first password
    any of them holds (`chassis.events.broker_urls` requires them to be the same).
    """
    for index, part in enumerate(url.split(",")):
        if index and "://" not in part:
            continue  # a host of a multi-host URL (`postgresql://u:p@a,b/db`), not a URL
        try:
            password = urlsplit(part.strip()).password
        except ValueError:
            continue
        if password is not None:
            return password
    return None
