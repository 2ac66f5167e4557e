"""Mercato: an e-commerce backend built as Python microservices.

Packages: `chassis` (what every service is built from), `contracts` (event and API
schemas shared between producers and consumers), one package per service
(`auth`, `users`, `catalog`, `gateway`, ...) and `launcher` (the `mercato` CLI that
declares and runs the whole topology).
"""

__version__ = "0.1.0"
