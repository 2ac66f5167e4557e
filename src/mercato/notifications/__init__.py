"""The notifications service: the mails a customer gets, their preferences, what was sent.

It consumes events (`user.registered`, `order.confirmed`, `payment.failed`,
`payment.refunded`, `shipment.shipped`, `shipment.delivered`), renders a text and an
HTML body per kind from its templates and hands the mail to an SMTP server. The
address comes from its own recipients table, filled from `user.registered`. What was
sent (or skipped, by the customer's preferences) is kept and readable by its
recipient (`/api/notifications/messages`); admins also preview the templates.
"""
