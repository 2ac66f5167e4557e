"""The helpers of the tests: every module here holds code that tests import, and no test.

Layout of `tests/`: a level is a folder (`unit`, `service`, `integration`, `contract`,
`security`, `e2e`, `browser`); in it, `test_*.py` modules hold tests and `conftest.py` holds
fixtures. A helper a test module imports lives here, in a module named after what it
is or what it helps test, never `test_*` (pytest would collect it, and a reader would
look for tests in it). A test module imports helpers from here, never from another
test module. Import the module that defines a name (`from tests.support.tokens import
TokenFactory`): this package re-exports nothing.

What every level uses:
    tokens      `TokenFactory`, access tokens signed with a key the tests hold
    apps        `running`, a service's app in-process with an httpx client on it
    clock       `ManualClock`, a clock that moves when the test moves it
    servers     the real servers (PostgreSQL, RabbitMQ) and programs (promtool) or a
                skip, and free local ports
    otlp        `OtlpReceiver`, a collector's OTLP/HTTP traces endpoint keeping the spans
    migrations  a database at a service's first revision, schema against models
    terminal    `Terminal`, a command on a pseudo-terminal (what `isatty()` sees as one),
                its output read as it comes, with and without escape sequences
    metrics     every metric the processes expose (`METRICS`, one list for the tests,
                the alerts and the dashboards) and reading an exposition

One module per subject under test:
    auth, catalog_inventory, gateway, logs, orders, payments
                the service's app on SQLite in `tmp_path` and the usual calls;
                `orders` serves catalog and payments for real next to it
    catalog_search
                a small shop and the shopper's search checks (prefixes, typos,
                facets, stock, hostile input), run on SQLite and on PostgreSQL
    pictures    image files made by Pillow (turned, with metadata, decompression
                bombs), and uploading them to the catalog
    web         the storefront in-process with real auth and users servers, and a
                browser's steps (cookies, forms and their CSRF tokens)
    shop_pages  the storefront in-process in front of every service it calls (the
                shop pages' tests): products, customers, checkouts
    browser     the browser tests' tools: Chromium or a skip, the axe audit,
                screenshots, a customer's steps through the UI
    http_client the misbehaving upstream of the inter-service client tests
    events      event data of made-up types, for the outbox and relay tests
    contracts   a service's OpenAPI document against the contract models it serves
    deploy      the files in `deploy/`, read as data
    observability, promql, prometheus
                the alert rules, their tests and the dashboards read as data; the
                metric names a PromQL expression reads; a real Prometheus server
    secured_nats, loopback_clients, tls, wire
                the security level's tools: a nats-server configured as `mercato up`
                configures it, clients from chosen loopback addresses, certificates,
                raw HTTP/1.1 over sockets
    nats_cluster
                a JetStream cluster of three nats-server processes on loopback, with
                a node to kill and restart

One exception: the harness of the running system (`tests/e2e/system.py`, `client.py`,
`brokers.py`, `invariants.py`, `checkouts.py`) stays in the e2e package it drives
`mercato up` for; the security level borrows it from there.
"""
