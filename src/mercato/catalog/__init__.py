"""The catalog service: products, categories and stock, with search and bulk import.

It owns the product catalog that shoppers browse (public listing with filters,
full-text search and cursor paging) and that administrators edit (create, update,
delete, bulk import in the dummyjson format). Every change to a product writes a
`product.created`, `product.updated` or `product.deleted` event to the outbox in the
same transaction.
"""
