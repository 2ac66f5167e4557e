"""Contracts shared between services: versioned event schemas and API shapes.

Producers build event data from these models and consumers validate against them,
so a producer that changes a schema incompatibly breaks the contract tests rather
than a consumer in production.
"""
