"""The orders service: carts, orders and the checkout saga.

A customer fills a cart (priced live from the catalog) and checks it out with an
idempotency key. The order is then driven by a saga that this service orchestrates
and persists step by step: reserve stock at the catalog, charge the payment method
at payments, commit the stock; on failure it compensates (release, refund) and ends
in an explicit terminal state. A sweeper resumes sagas that a crash left halfway.
"""
