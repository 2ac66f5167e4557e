"""The catalog's inventory: stock on hand, reservations for checkout, and their sweeper.

`rules` holds what needs no database (lines, shortages, expiry, event data), `store`
the stock and reservation queries, `reservations` the domain (reserve, commit,
release, expire, restock) and `sweeper` the background task that releases expired
reservations. The product side of the catalog may use the inventory's rules and
events; the inventory reads products from the catalog's store, never through the
product service.
"""
