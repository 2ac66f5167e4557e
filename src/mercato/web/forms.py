"""HTML forms: reading what was posted (CSRF checked first), and what a form shows.

Every form that posts carries the shopper's CSRF token in a hidden field
(`CSRF_FIELD`, the secret of their session, which only pages of this site can read).
`read_form` refuses a post (`FormRefused`) before anything else is looked at when:

- the browser says it came from another site (`Sec-Fetch-Site` other than
  `same-origin` or `none`), or its `Origin` names another host than this one (by the
  gateway's `X-Forwarded-Host`, else `Host`); `Origin: null` is refused too;
- the token is missing, or is not the session's (a visitor without a session has
  no token to send).

One post is taken from a visitor without a session, so without a token: the first
"Add to cart", which starts their session (`read_first_form`). It must prove that
it comes from this site's own page (`Origin` of this host, or `Sec-Fetch-Site:
same-origin`); a post that says nothing of where it comes from is refused. It acts
on no session, so another site's page could at most have started one for the
browser: that is what the proof refuses.

A page catches `FormRefused` and shows its form again with `refused.message` (status
403), its fields empty: what a refused post held may not be the shopper's. A page that
forgets gets the generic 403 page (`error_pages`), never a JSON error.

`form_view` builds what a form shows: each field with its label, the value typed
(kept, except a password's), its error beside it (`aria-describedby`,
`aria-invalid`), and the message of the whole form; `templates/partials/forms.html`
renders it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile

from mercato.web.shopper import Shopper

__all__ = [
    "CSRF_FIELD",
    "MAX_FIELD_LENGTH",
    "REFUSED",
    "Field",
    "FieldView",
    "FormRefused",
    "FormView",
    "Posted",
    "form_view",
    "read_first_form",
    "read_form",
    "sentence",
]

CSRF_FIELD = "csrf_token"
MAX_FIELDS = 50
MAX_FIELD_LENGTH = 10_000
REFUSED = (
    "We could not accept this form: it has expired or did not come from this page. "
    "Please try again."
)


class FormRefused(Exception):
    """A post without this site's CSRF token, or sent from another site."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # for the log; the shopper reads `message`
        self.message = REFUSED


@dataclass(frozen=True, slots=True)
class Posted:
    """The fields of an accepted post, each a string (absent: '')."""

    values: Mapping[str, str]

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    def stripped(self, name: str) -> str:
        """The field's value without surrounding white space."""
        return self[name].strip()


def _own_host(shopper: Shopper) -> str:
    headers = shopper.request.headers
    forwarded = headers.get("x-forwarded-host", "").split(",")[0].strip()
    return (forwarded or headers.get("host", "")).lower()


def _check_origin(shopper: Shopper) -> None:
    headers = shopper.request.headers
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise FormRefused(f"Sec-Fetch-Site: {site}")
    origin = headers.get("origin")
    if origin is None:
        return
    host = urlsplit(origin).netloc.lower() if origin != "null" else ""
    if not host or host != _own_host(shopper):
        raise FormRefused(f"Origin {origin!r} is not this site")


async def _fields(shopper: Shopper) -> dict[str, str]:
    async with shopper.request.form(max_files=0, max_fields=MAX_FIELDS) as form:
        return {
            name: value[:MAX_FIELD_LENGTH]
            for name, value in form.multi_items()
            if not isinstance(value, UploadFile)
        }


async def read_first_form(shopper: Shopper) -> Posted:
    """The fields of a sessionless visitor's post, once it proves it is this site's."""
    _check_origin(shopper)
    headers = shopper.request.headers
    if headers.get("origin") is None and headers.get("sec-fetch-site") != "same-origin":
        raise FormRefused("a post without a session says nothing of where it comes from")
    values = await _fields(shopper)
    values.pop(CSRF_FIELD, None)
    return Posted(values)


async def read_form(shopper: Shopper) -> Posted:
    """The posted fields, once the post is known to come from this site's own form."""
    _check_origin(shopper)
    values = await _fields(shopper)
    token = values.pop(CSRF_FIELD, "")
    record = shopper.record
    if record is None:
        raise FormRefused("no session")
    if not token or not hmac.compare_digest(token.encode(), record.csrf_secret.encode()):
        raise FormRefused("wrong or missing CSRF token")
    return Posted(values)


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a form: its name, label, input type and browser hints."""

    name: str
    label: str
    type: str = "text"
    autocomplete: str | None = None
    required: bool = True
    max_length: int | None = None
    hint: str | None = None

    @property
    def kept(self) -> bool:
        """Whether what was typed is shown again (never a password)."""
        return self.type != "password"


@dataclass(frozen=True, slots=True)
class FieldView:
    """A field as a page shows it."""

    field: Field
    value: str
    error: str | None
    form_id: str

    @property
    def id(self) -> str:
        """The input's id, unique on the page."""
        return f"{self.form_id}-{self.field.name}"

    @property
    def error_id(self) -> str:
        """The id of its error message, which the input names in `aria-describedby`."""
        return f"{self.id}-error"

    @property
    def hint_id(self) -> str:
        """The id of its hint."""
        return f"{self.id}-hint"

    @property
    def described_by(self) -> str:
        """What the input's `aria-describedby` names ('' for nothing)."""
        ids = [self.hint_id] if self.field.hint else []
        if self.error:
            ids.append(self.error_id)
        return " ".join(ids)


@dataclass(frozen=True, slots=True)
class FormView:
    """A form as a page shows it."""

    id: str
    action: str
    submit: str
    csrf_token: str
    fields: tuple[FieldView, ...]
    message: str | None = None
    hidden: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def has_errors(self) -> bool:
        """Whether a field is in error, or the form as a whole."""
        return self.message is not None or any(f.error for f in self.fields)


def form_view(
    form_id: str,
    fields: Sequence[Field],
    *,
    action: str,
    submit: str,
    csrf_token: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
    hidden: Iterable[tuple[str, str]] = (),
) -> FormView:
    """What a form shows: `values` typed (kept but for passwords) and `errors` by field."""
    values, errors = values or {}, errors or {}
    views = tuple(
        FieldView(f, values.get(f.name, "") if f.kept else "", errors.get(f.name), form_id)
        for f in fields
    )
    return FormView(form_id, action, submit, csrf_token, views, message, tuple(hidden))


def sentence(label: str, message: str) -> str:
    """A service's message about a field as a sentence beside it.

    `must be at least 10 characters long` about Password reads `Password must be at
    least 10 characters long.`, `value is not a valid email address` about Email
    `Email is not a valid email address.`; pydantic's `Value error, ` prefix is dropped.
    """
    text = message.removeprefix("Value error, ").strip().rstrip(".")
    if text.startswith("value is ") and label:  # pydantic's: "value is not a valid ..."
        text = text.removeprefix("value ")
    if text[:1].islower():
        text = f"{label} {text}"
    return text + "."
