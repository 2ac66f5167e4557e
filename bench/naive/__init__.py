"""The naive design every tutorial shows, kept small so it runs beside Mercato.

A synchronous gateway that opens a new connection per request, in front of a
synchronous service that asks the auth service to validate every token.
"""
