"""The catalog service: products, categories and stock, with search and bulk import.

It owns the product catalog that shoppers browse (public listing with filters,
full-text search, cursor paging and batch lookup by ids) and that administrators
edit (create, update, delete, restock, bulk import in the dummyjson format), and the
stock reservations of checkout (reserve, commit, release, expiry). Every change
writes its events (`product.*`, `inventory.*`) to the outbox in the same transaction.
"""
