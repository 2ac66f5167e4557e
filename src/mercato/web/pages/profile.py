"""`/account`: the signed-in shopper's name and postal addresses.

The users API keeps addresses inside the profile (`PATCH /api/users/me` replaces the
list; an address is kept by its `id`), so adding one sends the list read with the new
one after it, and removing one sends the list without it (`api.users`). Every form
posts to its own path and comes back to `/account` (303) with a message; bad input
shows the page again with the form in error (422), a refused post with a message (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import users
from mercato.web.api.backend import ApiError
from mercato.web.forms import (
    Field,
    FormRefused,
    FormView,
    Posted,
    form_view,
    read_form,
    sentence,
)
from mercato.web.pages.account import missing
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep

__all__ = [
    "ADDRESS_FIELDS",
    "NAME_FIELDS",
    "AccountView",
    "AddressView",
    "account_view",
    "address_errors",
    "router",
]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)

NAME_FIELDS = (Field("name", "Name", "text", "name", max_length=200),)
ADDRESS_FIELDS = (
    Field("line1", "Address", "text", "address-line1", max_length=200),
    Field("city", "City", "text", "address-level2", max_length=100),
    Field("postal_code", "Postal code", "text", "postal-code", required=False, max_length=20),
    Field(
        "country",
        "Country",
        "text",
        "country",
        max_length=2,
        hint="Its two-letter code, such as GB, DE or US.",
    ),
)
SAVED_NAME = "Your name is saved."
ADDED = "The address is added."
REMOVED = "The address is removed."
CHANGED_MEANWHILE = "Your account changed in another window meanwhile. Please try again."


@dataclass(frozen=True, slots=True)
class AddressView:
    """A stored address as the page lists it, with the form that removes it."""

    id: str
    lines: tuple[str, ...]

    @property
    def summary(self) -> str:
        """The address on one line (the Remove button's accessible name ends with it)."""
        return ", ".join(self.lines)


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the account page shows."""

    email: str
    name_form: FormView
    addresses: tuple[AddressView, ...]
    add_form: FormView
    csrf_token: str  # of the Remove buttons' forms
    message: str | None = None


def address_view(address: users.Address) -> AddressView:
    """A stored address's lines: street, postal code and city, country."""
    place = " ".join(p for p in (address.postal_code, address.city) if p)
    lines = (address.name, address.line1, address.line2 or "", place, address.country)
    return AddressView(address.id, tuple(line for line in lines if line))


def account_view(
    profile: users.Profile,
    csrf_token: str,
    *,
    name_values: Mapping[str, str] | None = None,
    name_errors: Mapping[str, str] | None = None,
    address_values: Mapping[str, str] | None = None,
    address_errors: Mapping[str, str] | None = None,
    address_message: str | None = None,
    message: str | None = None,
) -> AccountView:
    """The account page of `profile`, its forms with what was typed and their errors."""
    name_form = form_view(
        "name",
        NAME_FIELDS,
        action="/account/name",
        submit="Save name",
        csrf_token=csrf_token,
        values=name_values or {"name": profile.name},
        errors=name_errors,
    )
    add_form = form_view(
        "address",
        ADDRESS_FIELDS,
        action="/account/addresses",
        submit="Add address",
        csrf_token=csrf_token,
        values=address_values,
        errors=address_errors,
        message=address_message,
    )
    addresses = tuple(address_view(a) for a in profile.addresses)
    return AccountView(profile.email, name_form, addresses, add_form, csrf_token, message)


def address_errors(exc: ApiError, index: int) -> dict[str, str]:
    """The users API's errors about the address at `index`, by the add form's fields."""
    labels = {f.name: f.label for f in ADDRESS_FIELDS}
    found: dict[str, str] = {}
    prefix = f"addresses.{index}."
    for error in exc.errors:
        name = error.field.removeprefix(prefix)
        if error.field.startswith(prefix) and name in labels and name not in found:
            found[name] = sentence(labels[name], error.message)
    return found


async def _page(shopper: Shopper, view: AccountView, *, status: int = 200) -> Response:
    layout = await layout_of(shopper, csrf=True)
    return shopper.ctx.templates.page(
        "account/profile.html", layout=layout, title="Your account", view=view, status=status
    )


async def _posted(shopper: Shopper) -> tuple[users.Profile, Posted | Response]:
    """The profile, and the accepted post or the page that refuses it (403)."""
    caller = await shopper.customer()
    try:
        posted: Posted | Response = await read_form(shopper)
    except FormRefused as refused:
        profile = await users.me(caller)
        view = account_view(profile, await shopper.csrf_token(), message=refused.message)
        return profile, await _page(shopper, view, status=403)
    return await users.me(caller), posted


@router.get("/account")
async def account(shopper: ShopperDep) -> Response:
    """The shopper's name and addresses."""
    profile = await users.me(await shopper.customer())
    return await _page(shopper, account_view(profile, await shopper.csrf_token()))


@router.post("/account/name")
async def rename(shopper: ShopperDep) -> Response:
    """Change the name the shop addresses the shopper by."""
    profile, posted = await _posted(shopper)
    if isinstance(posted, Response):
        return posted
    values = {"name": posted.stripped("name")}
    errors = missing(NAME_FIELDS, posted)
    if not errors:
        try:
            await users.rename(await shopper.caller(), name=values["name"])
        except ApiError as exc:
            errors = {"name": _first_message(exc, CHANGED_MEANWHILE)}
    if errors:
        view = account_view(profile, shopper.record_csrf(), name_values=values, name_errors=errors)
        return await _page(shopper, view, status=422)
    await shopper.rename(values["name"])
    await shopper.flash(SAVED_NAME)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/addresses")
async def add_address(shopper: ShopperDep) -> Response:
    """Add a postal address (addressed to the shopper by name)."""
    profile, posted = await _posted(shopper)
    if isinstance(posted, Response):
        return posted
    values = {f.name: posted.stripped(f.name) for f in ADDRESS_FIELDS}
    values["country"] = values["country"].upper()
    errors = missing(ADDRESS_FIELDS, posted)
    message = None
    if not errors:
        new = users.NewAddress(
            name=profile.name or profile.email,
            line1=values["line1"],
            city=values["city"],
            postal_code=values["postal_code"] or None,
            country=values["country"],
        )
        try:
            await users.add_address(await shopper.caller(), profile, new)
        except ApiError as exc:
            errors = address_errors(exc, len(profile.addresses))
            message = None if errors else _first_message(exc, CHANGED_MEANWHILE)
    if errors or message:
        view = account_view(
            profile,
            shopper.record_csrf(),
            address_values=values,
            address_errors=errors,
            address_message=message,
        )
        return await _page(shopper, view, status=422)
    await shopper.flash(ADDED)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/addresses/{address_id}/remove")
async def remove_address(address_id: str, shopper: ShopperDep) -> Response:
    """Remove one of the shopper's addresses (another's id, or a gone one, changes nothing)."""
    profile, posted = await _posted(shopper)
    if isinstance(posted, Response):
        return posted
    if any(a.id == address_id for a in profile.addresses):
        try:
            await users.remove_address(await shopper.caller(), profile, address_id)
        except ApiError as exc:
            view = account_view(
                profile, shopper.record_csrf(), message=_first_message(exc, CHANGED_MEANWHILE)
            )
            return await _page(shopper, view, status=exc.status if exc.status == 409 else 422)
    await shopper.flash(REMOVED)
    return RedirectResponse("/account", status_code=303)


def _first_message(exc: ApiError, conflict: str) -> str:
    """What to tell the shopper of a refusal: the conflict's sentence, or the first error."""
    if exc.status == 409:
        return conflict
    if exc.errors:
        return sentence("", exc.errors[0].message).strip()
    return exc.detail
