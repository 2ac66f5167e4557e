"""The chassis: everything a Mercato service is built from, so it holds only its domain.

One concept per module:

    config       settings from MERCATO_<SERVICE>_* / MERCATO_* variables, validated at start
    app          the app factory (errors, middleware, health, metrics, lifespan; an edge hook)
    direct       direct routes: the hottest endpoints, served past FastAPI's machinery
    runtime      ServiceSpec (what a service declares) and Runtime (what a process opens)
    background   background tasks: run, logged, backed off, shown in health, cancelled
    errors       RFC 9457 problem+json errors, their handlers and `field_error`
    context      request id and W3C trace context of the work in progress
    logs         JSON logs on stdout
    metrics      Prometheus request count and latency by route and status
    middleware   the pure-ASGI request middleware (ids, limits, access log, metrics)
    health       liveness and readiness probes
    database     async SQLAlchemy engine and sessions (SQLite WAL or PostgreSQL)
    direct_reads one-statement reads compiled once and run straight on the driver
    migrations   Alembic migrations per service, applied at start
    security     local JWT verification from auth's JWKS, revocations, route guards
    http         the inter-service client (pooling, timeouts, retries, circuit breakers)
    retries      its retry policy: one attempt, and whether, where and when the next goes
    tls          checks of the certificate files, and the context of outgoing HTTPS calls
    circuit      the circuit breaker
    service_tokens  client-credentials tokens for service-to-service calls
    events       the event bus: envelope, outbox, relay, idempotent consumer, dead letters
    paging       cursor (keyset) paging: the cursor codec, `keyset_page` and `Page[T]`
    idempotency  Idempotency-Key: the header, request fingerprints, replay or conflict
    deps         FastAPI dependencies shared by every service (session, outbox, context)
    serve        running an app with uvicorn
"""
