"""Who may do what: access tokens verified locally (the caller, route guards), TLS,
owner-only files, production secrets, and the client's address behind proxies.
"""
