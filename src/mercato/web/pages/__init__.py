"""The storefront's pages, one module per part of the shop, each with its `router`.

    home      `/`: the shop's front page
    account   `/register`, `/login`, `/logout`
    profile   `/account`: the shopper's name and addresses
    browse    `/category/{slug}`, `/search`, `/suggest` (the search box's JSON)
    product   `/product/{id}`, adding it to the cart (`POST /cart/items`)
    cart      `/cart`, a line's quantity, removing it
    checkout  `/checkout`
    orders    `/orders`, `/orders/{id}` (and its `/status`), cancelling
    returns   the order page's goods (shipments, returns), `POST /orders/{id}/returns`
    mails     `/account/mails`: the shopper's mails and their mail preferences
    (ops)     `/ops/...`: the operations console, a package of its own (`mercato.web.ops`)

A page module holds its routes (thin: read the request, call `mercato.web.api`,
render) and the functions that build what each page shows (`*_view`), which the tests
call without a browser. A new part of the shop is a module here and one line in
`routers()`.
"""

from __future__ import annotations

from fastapi import APIRouter

from mercato.web import ops
from mercato.web.pages import (
    account,
    browse,
    cart,
    cart_discount,
    checkout,
    home,
    mails,
    orders,
    product,
    profile,
    returns,
)

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """Every page's router, in the order their paths are matched."""
    return [
        home.router,
        account.router,
        profile.router,
        mails.router,
        *shop_routers(),
        *ops.routers(),
    ]


def shop_routers() -> list[APIRouter]:
    """The shop's pages: browsing, a product, the cart, checkout, the orders."""
    return [
        browse.router,
        product.router,
        cart.router,
        cart_discount.router,
        checkout.router,
        orders.router,
        returns.router,
    ]
