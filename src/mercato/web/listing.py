"""What a list of products shows: a category, search results, the front page's picks.

A listing page's URL says everything it shows, so that any state of it is a link a
shopper can keep, share or go back to (`/search?q=lap&brand=Northwind&sort=price_asc`):

    q       the search words                 brand   one brand (exactly as listed)
    price   a price band `min-max` or `min-` in minor units (what the facets count)
    stock   `1`: in stock only               sort    relevance, newest, price_asc, ...
    after   the catalog's cursor of the page  page    its number, for the heading only

A value that makes no sense (an unknown sort, a band that is not one) is ignored, as
a shop ignores a mistyped link's part rather than refusing the page. `Browse` is
that request; `listing_view` builds the page from the catalog's answer: the product
cards, the facets with their counts and links (each facet's own choice left out of
its counts by the catalog, so a shopper sees the alternatives), the active filters
with a link to remove each, the sort form, and the next page's link. A catalog that
does not count facets answers without them; the page then has no filters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypedDict
from urllib.parse import quote, urlencode

from mercato.web.api import catalog
from mercato.web.money import format_amount, format_money
from mercato.web.numbers import whole_number
from mercato.web.pictures import Picture, card_picture

__all__ = [
    "PAGE_SIZE",
    "Browse",
    "FacetGroup",
    "FacetOption",
    "ListingView",
    "ProductCard",
    "SortOption",
    "category_url",
    "listing_view",
    "price_label",
    "product_card",
    "product_url",
    "shown_fields",
    "stock_word",
]

PAGE_SIZE = 20
MAX_PAGE = 10_000
SORT_LABELS: dict[catalog.Sort, str] = {
    "relevance": "Best match",
    "newest": "Newest",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "title": "Name: A to Z",
}


def category_url(slug: str) -> str:
    """A category page's path."""
    return f"/category/{quote(slug, safe='')}"


def product_url(product_id: str) -> str:
    """The product page's path."""
    return f"/product/{quote(product_id, safe='')}"


def stock_word(stock: int) -> str:
    """How a page says what is available: in stock, only a few left, or out of stock."""
    if stock <= 0:
        return "Out of stock"
    if stock <= 5:
        return f"Only {stock} left"
    return "In stock"


def _band(raw: str) -> tuple[int, int | None] | None:
    text, dash, high_text = raw.partition("-")
    low = whole_number(text, max_digits=13)
    high = whole_number(high_text, max_digits=13) if high_text else None
    if not dash or low is None or (high_text and (high is None or high <= low)):
        return None
    return low, high


@dataclass(frozen=True, slots=True)
class Browse:
    """What a listing page was asked for, read from its URL (nonsense ignored)."""

    q: str = ""
    brand: str = ""
    price: tuple[int, int | None] | None = None
    in_stock: bool = False
    sort: catalog.Sort | None = None
    cursor: str | None = None
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Browse:
        """The request of a listing page's query string."""
        sort = params.get("sort", "")
        page = params.get("page", "")
        return cls(
            q=" ".join(params.get("q", "").split())[:200],
            brand=params.get("brand", "").strip()[:100],
            price=_band(params.get("price", "")),
            in_stock=params.get("stock") == "1",
            sort=sort if sort in catalog.SORTS else None,
            cursor=(params.get("after") or None) if len(params.get("after", "")) <= 2000 else None,
            page=max(1, min(whole_number(page, max_digits=6) or 1, MAX_PAGE)),
        )

    def listing(self, *, category: str | None = None, facets: bool = True) -> catalog.Listing:
        """What to ask the catalog for."""
        low, high = self.price if self.price is not None else (None, None)
        return catalog.Listing(
            q=self.q or None,
            category=category,
            brand=self.brand or None,
            min_price=low,
            max_price=high - 1 if high is not None else None,  # the catalog's max is inclusive
            in_stock=self.in_stock,
            sort=self.sort,
            limit=PAGE_SIZE,
            cursor=self.cursor,
            facets=facets,
        )

    def params(self) -> list[tuple[str, str]]:
        """The query string's parameters of this request (those set)."""
        pairs = [
            ("q", self.q),
            ("brand", self.brand),
            ("price", _band_text(self.price) if self.price else ""),
            ("stock", "1" if self.in_stock else ""),
            ("sort", self.sort or ""),
            ("after", self.cursor or ""),
            ("page", str(self.page) if self.page > 1 else ""),
        ]
        return [(name, value) for name, value in pairs if value]

    def url(self, path: str) -> str:
        """The link to this request on `path`."""
        query = urlencode(self.params())
        return f"{path}?{query}" if query else path

    def first_page(self) -> Browse:
        """This request from its first page (a changed filter starts again there)."""
        return replace(self, cursor=None, page=1)


def _band_text(band: tuple[int, int | None]) -> str:
    return f"{band[0]}-{band[1] if band[1] is not None else ''}"


@dataclass(frozen=True, slots=True)
class ProductCard:
    """A product in a list: its picture, title, brand, price and stock."""

    id: str
    url: str
    title: str
    brand: str
    price: str
    stock: str
    in_stock: bool
    picture: Picture


class ShownFields(TypedDict):
    """What both a product's card and its page show, in the pages' words."""

    id: str
    url: str
    title: str
    brand: str
    price: str
    stock: str
    in_stock: bool


def shown_fields(product: catalog.Product) -> ShownFields:
    """The fields of `product` that its card and its page share."""
    return ShownFields(
        id=product.id,
        url=product_url(product.id),
        title=product.title,
        brand=product.brand or "",
        price=format_money(product.price),
        stock=stock_word(product.stock),
        in_stock=product.stock > 0,
    )


def product_card(product: catalog.Product) -> ProductCard:
    """The card of `product` in a list."""
    picture = card_picture(product.title, product.thumbnail, product.images)
    return ProductCard(**shown_fields(product), picture=picture)


@dataclass(frozen=True, slots=True)
class FacetOption:
    """A choice of a facet: its words, how many products, the link that toggles it."""

    label: str
    count: int | None
    url: str
    selected: bool


@dataclass(frozen=True, slots=True)
class FacetGroup:
    """A facet: its heading and choices."""

    id: str
    heading: str
    options: tuple[FacetOption, ...]


@dataclass(frozen=True, slots=True)
class SortOption:
    """An order the results can be shown in."""

    value: str
    label: str
    selected: bool


@dataclass(frozen=True, slots=True)
class ListingView:
    """What a listing page shows."""

    heading: str
    path: str
    query: str
    summary: str | None
    corrected: str | None
    products: tuple[ProductCard, ...]
    facets: tuple[FacetGroup, ...]
    active: tuple[FacetOption, ...]  # each filter in use, with the link that removes it
    clear_url: str | None
    sorts: tuple[SortOption, ...]
    kept: tuple[tuple[str, str], ...]  # the sort form's hidden fields: the other choices
    next_url: str | None
    first_url: str | None
    page: int
    empty: str


def price_label(band: tuple[int, int | None], currency: str) -> str:
    """A price band in words: `Under $25.00`, `$25.00 to $50.00`, `$500.00 and over`."""
    low, high = band
    if high is None:
        return f"{format_amount(low, currency)} and over"
    if low == 0:
        return f"Under {format_amount(high, currency)}"
    return f"{format_amount(low, currency)} to {format_amount(high, currency)}"


def _facet_groups(
    browse: Browse, path: str, facets: catalog.Facets, currency: str
) -> tuple[FacetGroup, ...]:
    start = browse.first_page()
    brands = [
        FacetOption(
            b.value,
            b.count,
            replace(start, brand="" if b.value == browse.brand else b.value).url(path),
            b.value == browse.brand,
        )
        for b in facets.brand
    ]
    prices = []
    for band in facets.price:
        chosen = browse.price == (band.min, band.max)
        if band.count or chosen:  # an empty band is no choice, unless it is the one made
            toggled = replace(start, price=None if chosen else (band.min, band.max))
            label = price_label((band.min, band.max), currency)
            prices.append(FacetOption(label, band.count, toggled.url(path), chosen))
    stock = FacetOption(
        "In stock only",
        facets.in_stock,
        replace(start, in_stock=not browse.in_stock).url(path),
        browse.in_stock,
    )
    groups = [
        FacetGroup("facet-brand", "Brand", tuple(brands)),
        FacetGroup("facet-price", "Price", tuple(prices)),
        FacetGroup("facet-stock", "Availability", (stock,)),
    ]
    return tuple(g for g in groups if g.options)


def _active(browse: Browse, path: str, currency: str) -> tuple[FacetOption, ...]:
    start = browse.first_page()
    active: list[tuple[str, Browse]] = []
    if browse.brand:
        active.append((f"Brand: {browse.brand}", replace(start, brand="")))
    if browse.price:
        active.append((f"Price: {price_label(browse.price, currency)}", replace(start, price=None)))
    if browse.in_stock:
        active.append(("In stock only", replace(start, in_stock=False)))
    return tuple(FacetOption(label, None, without.url(path), True) for label, without in active)


def _summary(total: int | None, shown: int, page: int) -> str | None:
    if total is None:
        return None
    noun = "product" if total == 1 else "products"
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if pages == 1 or shown == 0:
        return f"{total} {noun}"
    return f"{total} {noun}, page {min(page, pages)} of {pages}"


def listing_view(
    browse: Browse, answer: catalog.ProductList, *, path: str, heading: str
) -> ListingView:
    """The page of `answer` to the request `browse` on `path`."""
    currency = answer.items[0].price.currency if answer.items else "USD"
    searching = bool(browse.q)
    sorts = tuple(
        SortOption(value, label, value == (browse.sort or ("relevance" if searching else "newest")))
        for value, label in SORT_LABELS.items()
        if searching or value != "relevance"
    )
    start = browse.first_page()
    kept = tuple((n, v) for n, v in start.params() if n != "sort")
    corrected = None
    if answer.corrected and answer.corrected != browse.q:
        corrected = f"No results for “{browse.q}”. Showing results for “{answer.corrected}”."
    next_url = None
    if answer.next_cursor:
        next_url = replace(browse, cursor=answer.next_cursor, page=browse.page + 1).url(path)
    active = _active(browse, path, currency)
    empty = f"No products match “{browse.q}”." if searching else "No products here yet."
    if active:
        empty += " Try removing a filter."
    return ListingView(
        heading=heading,
        path=path,
        query=browse.q,
        summary=_summary(answer.total, len(answer.items), browse.page),
        corrected=corrected,
        products=tuple(product_card(p) for p in answer.items),
        facets=_facet_groups(browse, path, answer.facets, currency) if answer.facets else (),
        active=active,
        clear_url=replace(start, brand="", price=None, in_stock=False).url(path)
        if active
        else None,
        sorts=sorts,
        kept=kept,
        next_url=next_url,
        first_url=start.url(path) if browse.cursor else None,
        page=browse.page,
        empty=empty,
    )
