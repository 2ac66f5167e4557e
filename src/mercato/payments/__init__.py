"""The payments service: payment methods, payments (charges) and refunds.

A payment method keeps only what a card may show (brand, last four digits, expiry)
and the provider's token for it: never the card number or the security code. Charges
and refunds are made by other services (the checkout saga) or admins, each under an
`Idempotency-Key` so that a retry never moves money twice; every outcome is written
to the outbox as `payment.succeeded`, `payment.failed` or `payment.refunded` in the
transaction that records it. The provider sits behind `PaymentProvider`; the
`SimulatedProvider` with the industry's test cards is the default.
"""
