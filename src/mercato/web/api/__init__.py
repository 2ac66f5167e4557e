"""The storefront's calls to the system: one typed function per API call, by service.

    backend   `Backend` (the client and the services' pools), `Caller` (a shopper's
              token and address), and what a call raises: `ApiError` (4xx, with the
              problem's field errors) and `BackendDown` (unreachable, slow, 5xx)
    auth      register, login, refresh, logout, me
    users     the profile and its addresses
    catalog   products (listing, search with facets, one), categories: public
    orders    the cart, checkout (with its idempotency key), the orders, cancelling
    payments  the saved cards, saving a new one
    shipping  an order's returns, asking for one
    notifications  the shopper's mails and their mail preferences

To add a call: in the module of its service (a new module for a new service), a
pydantic model of the answer's fields the pages use (`extra="ignore"`, frozen) and

    async def product(caller: Caller, product_id: str) -> Product:
        \"\"\"One product (404: none).\"\"\"
        body = await caller.call("catalog", "GET", f"/api/catalog/products/{quote(product_id)}")
        return Product.model_validate(body)

A path segment taken from a request is quoted (`urllib.parse.quote(value, safe="")`).
"""

from mercato.web.api.backend import ApiError, Backend, BackendDown, Caller, FieldError

__all__ = ["ApiError", "Backend", "BackendDown", "Caller", "FieldError"]
