"""The operations console, `/ops`: administrators watch and run the system from the shop.

Every page is for administrators (`access`): a visitor is sent to log in, a customer
gets 403, and every API the console calls checks the administrator's token again.

    access         who may use the console; a service's 403 as the console's
    nav            the console's layout (`ops_page`)
    metrics        a process's Prometheus text read (`Sample`), rates and p99 (`Change`)
    monitor        every instance scraped on demand, recent samples kept (`Monitor`)
    system         what the system page shows (`system_view`)
    system_pages   `/ops`, `/ops/system/fragment`
    dead_letters   `/ops/dead-letters`: list, inspect, replay (the logs service's API)
    orders         `/ops/orders`: find an order; its saga's timeline, payment, reservation
    catalog        `/ops/catalog`: products; a product's stock (restock) and pictures
    products       `/ops/catalog/new`, `.../edit`: a product created or changed
    imports        `/ops/catalog/import`: a products file imported with a progress bar
    import_jobs    an uploaded file read; the catalog's import job as shown (`JobStatus`)
    uploads        a post with a file, CSRF checked and bounded
    audit          `/ops/audit`: the audit log filtered by type, subject, order, user, time
    shipments      `/ops/shipments`: shipments packed, shipped (tracking), delivered
    returns        `/ops/returns`: returns accepted, rejected (with a reason), received
    discounts      `/ops/discounts`: discount codes with their uses; created, deactivated
    mails          `/ops/mails`: the mails sent, one mail's text, the templates previewed

Templates are under `web/templates/ops/`, the console's script and stylesheet are
`static/ops.js` and `static/ops.css`.
"""

from __future__ import annotations

from fastapi import APIRouter

from mercato.web.ops import (
    audit,
    catalog,
    dead_letters,
    discounts,
    imports,
    mails,
    orders,
    products,
    returns,
    shipments,
    system_pages,
)

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """Every console page's router."""
    return [
        system_pages.router,
        dead_letters.router,
        orders.router,
        imports.router,
        catalog.router,
        products.router,
        audit.router,
        shipments.router,
        returns.router,
        discounts.router,
        mails.router,
    ]
