"""The inbound HTTP side of a service: the app factory, the request middleware,
problem+json errors, strict JSON bodies, direct routes, the dependencies routes
take, health, the OpenAPI document, paging, Idempotency-Key, and serving with uvicorn.
"""
