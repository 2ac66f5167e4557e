"""Contracts shared between services: versioned event schemas and API shapes.

Producers build event data from these models and consumers validate against them,
so a producer that changes a schema incompatibly breaks the contract tests rather
than a consumer in production. The same holds for the calls between services: the
service that serves a call and the one that makes it use one model of its request
and of its answer.

    events      the data of every domain event, each class naming its type and version
    event_base  what every event's data builds on: the base class, money, a product line
    shipping_events  shipping's events: shipments and returns (part of `events.SCHEMAS`)
    shipping    shipping's quotes, as checkout and the storefront ask for them
    event_examples  an example of each, for the event documents
    products    the catalog's product reads (a product, a page of them, its price)
    inventory   the catalog's stock reservations for a checkout
    restocks    the catalog's restock of a return's lines
    payments    payments' charges and refunds
    money       the bound on amounts every service holds to
    quantities  the bound on stock counts and cart quantities
"""
