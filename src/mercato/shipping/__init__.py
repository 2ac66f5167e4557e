"""The shipping service: methods and rates, quotes, shipments and returns' receipts.

It talks only to the broker. From `order.confirmed` it makes a shipment of the order's
lines, which an admin (or, in development, the simulated carrier) moves through
packed, shipped and delivered, publishing `shipment.*`; `order.cancelled` cancels
what has not shipped yet. A customer asks to return delivered lines (`return.*`),
which an admin accepts or rejects and then receives; orders refunds them and says so
with `order.returned`. Quotes (`GET /api/shipping/quotes`) price a parcel for the
checkout from the methods' rates. See docs/shipping.md.
"""
