"""The web service: the storefront, a backend-for-frontend over the public API.

It renders the shop's pages on the server (Jinja2), keeps each shopper's session
(their tokens never reach the browser) and calls the services' public API paths
directly on their instances, with the shopper's token, as any client would. It owns
no domain data: only sessions, and the keys of its checkout forms. The gateway sends
it every path that is not the API's or its own (`/`, `/login`, `/static/...`).

    app           the spec and `create_app`
    settings      where the services are; how long sessions last
    context       what a process shares: backend, sessions, templates
    api/          one typed function per API call (`ApiError`, `BackendDown`)
    sessions      server-side sessions: create, find, refresh tokens, end
    shopper       the request's shopper (`ShopperDep`): who, their caller, their cookie
    forms         reading posts (CSRF checked), what a form shows
    rendering     templates and the layout every page shares
    errors        what pages raise; `error_pages` renders every error as a page
    edge          security headers, the session cookie, static files
    assets        static files under versioned URLs
    pages/        the pages, one module per part of the shop
    listing, product_view, order_view, checkout_form
                  what the shop's pages show, built by plain functions (`*_view`)
    pictures, money, numbers
                  the catalog's own pictures, prices, whole numbers typed
    public_reads  the catalog's public answers, kept a few seconds for every shopper
    visitor_pages the catalogue's pages as a visitor without a session sees them, kept
    checkouts     one checkout per checkout form (its key), across posts and replicas
    models, store the sessions table and its queries; `migrations/`
    checkout_store
                  the checkouts table's queries
    housekeeping  the task that deletes ended sessions
"""
