"""The chassis: everything a Mercato service is built from, so it holds only its domain.

A folder per concept, a module per part of it:

    config.py            settings from MERCATO_<SERVICE>_* / MERCATO_* variables, validated
    runtime.py           ServiceSpec (what a service declares) and Runtime (what a process opens)
    background.py        background tasks: run, logged, backed off, shown in health, cancelled
    container_limits.py  the CPUs and memory the cgroup allows this process

    web/                 the inbound HTTP side
      app                  the app factory (errors, middleware, health, metrics, lifespan; edge)
      middleware           the pure-ASGI request middleware (ids, limits, access log, metrics)
      errors               RFC 9457 problem+json errors, their handlers and `field_error`
      json_body            request bodies read as strict JSON (no NaN, nothing unstorable)
      json_response        `JsonResponse`: a body encoded with orjson
      direct_routes        the hottest endpoints, served past FastAPI's machinery
      dependencies         what routes take: session, outbox, context, runtime
      health               liveness and readiness probes (readiness: what a request needs;
                           the broker and the background tasks are shown, never decide)
      openapi              the OpenAPI document completed: security, every error status
                           as problem+json (`problems`), operation ids, examples
      openapi_routes       who may call a route, read off its dependencies
      openapi_examples     the models' examples, back in the document and on its media
      docs                 Swagger UI and ReDoc pages, from files installed with the package
      paging               keyset paging: the cursor codec, `keyset_page` and `Page[T]`
      idempotency          Idempotency-Key: the header, request fingerprints, replay or conflict
      uploads              routes that take a file (multipart), and reading it as it streams
      http_protocol        uvicorn's HTTP protocol with the edge's bounds (slow clients, sizes)
      serve                running an app with uvicorn

    data/                a service's database
      database             async SQLAlchemy engine and sessions (SQLite WAL or PostgreSQL)
      migrations           Alembic migrations per service, applied at start
      sqlite_driver        SQLite calls made in the event loop, not on a thread
      driver_reads         one-statement reads compiled once and run straight on the driver
      sqlite_threads       long SQLite reads (milliseconds) on worker threads, off the loop

    client/              the calls a service makes to others
      service_client       pooling, timeouts, retries, balancing, circuit breakers
      retries              the retry policy: one attempt, and whether, where and when the next
      balancing            choosing an instance of a service
      circuit              the circuit breaker
      service_tokens       client-credentials tokens for service-to-service calls
      responses            what a call returns (`ServiceResponse`) or raises

    security/            who may do what
      tokens               access tokens verified locally from auth's JWKS, revocations,
                           the caller (`Principal`) and route guards (`Admin`, `UserCaller`...)
      tls                  checks of the certificate files, the context of outgoing HTTPS
      private_files        files only their owner may read
      production_secrets   what production accepts as a secret (not empty, no placeholder)
      client_addresses     the client's address, behind proxies that prove themselves

    telemetry/           what a process tells its operator
      trace_context        request id and W3C trace context of the work in progress
      tracing              OpenTelemetry from the OTEL_* variables: the tracer, its spans' parents
      http_spans           the spans of requests served, calls made and requests forwarded
      event_spans          the spans of events published and handled
      statement_spans      the spans of database statements (MERCATO_TRACE_STATEMENTS)
      logs                 JSON logs on stdout
      http_metrics         Prometheus request count and latency by route; the process's registry
      event_metrics        the outbox's backlog and publishes, the consumer's outcomes and
                           lag, whether the broker answers
      client_metrics       calls to other services by target, the circuits' states
      pool_metrics         the database pool: connections in use, waits for one
      task_metrics         background tasks: failed rounds, last success

    events/              the event bus: envelope, outbox, relay, idempotent consumer,
                         dead letters, names and permissions on the broker, its
                         AsyncAPI document (`asyncapi`), and what its sampled gauges
                         show (`sampling`: backlog, lag); the broker URL, one or a NATS
                         cluster's list (`broker_urls`), and the background check of
                         the broker that health and metrics show (`broker_watch`)
      nats/                on NATS JetStream (its streams, replicated: `streams`)
      rabbit/              on RabbitMQ
"""
