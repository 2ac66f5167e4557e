"""What the console's shipments and returns pages share: one status's list, paged.

Each page lists the shipping service's items (shipments, returns) newest first,
narrowed to one status by the service itself (`?status=`), a page at a time with the
service's cursor. Every row carries the forms of the moves its status allows. A move
goes back to the list with a flash; a refused one shows the list again with the
service's reason beside that item (409: the status does not allow it, or another
admin moved it first) or a form's mistakes beside their fields (422), with what was
typed. Shipping down is said on the page instead of the list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.forms import Field, sentence
from mercato.web.ops.access import refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.shopper import Shopper

__all__ = ["PAGE", "Focus", "ListView", "StatusList", "field_errors"]

PAGE = 20


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item")
Row = TypeVar("Row", bound=_Identified)


def field_errors(exc: ApiError, fields: tuple[Field, ...]) -> dict[str, str]:
    """A service's 422, by the form's field each error is about (`body.carrier`: carrier)."""
    labels = {f.name: f.label for f in fields}
    found: dict[str, str] = {}
    for error in exc.errors:
        name = next((part for part in error.field.split(".") if part in labels), None)
        if name is not None and name not in found:
            found[name] = sentence(labels[name], error.message)
    return found


@dataclass(frozen=True, slots=True)
class Focus:
    """What a refused post shows again about one item."""

    item_id: str
    refusal: str | None = None
    values: Mapping[str, str] | None = None
    errors: Mapping[str, str] | None = None

    def on(self, item_id: str) -> Focus | None:
        """This focus if it is about `item_id`, else None."""
        return self if self.item_id == item_id else None


@dataclass(frozen=True, slots=True)
class ListView(Generic[Row]):
    """A list page: the status shown, the rows (None: shipping is down), the next page."""

    status: str
    statuses: tuple[str, ...]
    rows: tuple[Row, ...] | None
    next_href: str | None
    message: str | None = None


# Reads one page of items in a status ('' for any) from a cursor: the items and the
# cursor that goes on.
Reader = Callable[[Caller, str, str | None], Awaitable[tuple[Sequence[Item], str | None]]]
# Makes an item's row: the item, the status shown, the CSRF token, the focus if any.
RowMaker = Callable[[Item, str, str, "Focus | None"], Row]


@dataclass(frozen=True, slots=True)
class StatusList(Generic[Item, Row]):
    """One console list: where it is, what it calls its items, how it reads and shows them."""

    path: str  # "/ops/shipments"
    noun: str  # "shipment"
    title: str  # "Shipments"
    template: str
    statuses: tuple[str, ...]
    read: Reader[Item]
    row: RowMaker[Item, Row]

    def href(self, status: str, cursor: str | None = None) -> str:
        """The list's URL in `status`, from `cursor`."""
        query = {k: v for k, v in (("status", status), ("cursor", cursor)) if v}
        return self.path + (f"?{urlencode(query)}" if query else "")

    def status_of(self, raw: str) -> str:
        """`raw` if it is one of the statuses, else '' (any)."""
        return raw if raw in self.statuses else ""

    async def shown(self, request: Request, shopper: Shopper) -> Response:
        """The page a GET asks for: its status and cursor from the query."""
        status = self.status_of(request.query_params.get("status", ""))
        cursor = request.query_params.get("cursor", "")[:500] or None
        return await self.page(shopper, status, cursor)

    async def page(
        self,
        shopper: Shopper,
        status: str,
        cursor: str | None,
        focus: Focus | None = None,
        code: int = 200,
    ) -> Response:
        """The list in `status` from `cursor`, `focus`'s item showing what was refused."""
        caller = await shopper.caller()
        rows: tuple[Row, ...] | None
        next_href = message = None
        try:
            async with refused_by_service():
                found, after = await self.read(caller, status, cursor)
            csrf = await shopper.csrf_token()
            rows = tuple(self.row(item, status, csrf, focus) for item in found)
            next_href = self.href(status, after) if after else None
            if focus and focus.refusal and all(row.id != focus.item_id for row in rows):
                message = f"{self.noun.capitalize()} {focus.item_id}: {focus.refusal}"
        except BackendDown as exc:
            rows = None
            message = f"{exc.part} is unavailable right now: no {self.noun} can be listed."
        except ApiError as exc:
            if exc.status != 422:  # a cursor that is not the service's
                raise
            rows, message = (), f"This page of {self.noun}s cannot be read: start from the first."
        view = ListView(status, self.statuses, rows, next_href, message)
        return await ops_page(shopper, self.template, self.title, view, status=code)

    async def moved(self, shopper: Shopper, item_id: str, done: str, status: str) -> Response:
        """After a move: the flash, and back to the list in `status`."""
        await shopper.flash(f"The {self.noun} {item_id} was {done}.")
        return RedirectResponse(self.href(status), status_code=303)
