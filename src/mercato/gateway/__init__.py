"""The API gateway: the only public port, in front of every service.

It owns nothing persistent. A plain Starlette app (no FastAPI on the proxy path):

- `settings`  the gateway's settings and their formats
- `routing`   `/api/<service>/...` -> that service's pool, every other path but the
              gateway's own -> the storefront's (`web`); round robin, passive health
- `pages`     the gateway's own refusals on a page's path, as small HTML pages
- `forward`   instance choice, retries and deadlines
- `upstream`  keep-alive HTTP/1.1 connections to every instance (httptools)
- `proxy`     the raw-ASGI proxy: headers, edge authentication, rate limits
- `relay`     an upstream's answer back to the client, minus what must not leave
- `headers`   hop-by-hop headers, trusted proxies, security headers
- `ratelimit` token buckets in memory or in Redis (one Lua script per check), and
              the bound on each client's costly requests under way
- `denylist`  revoked token ids shared through Redis
- `health`    `GET /health`, every instance's readiness aggregated
- `app`       the wiring: `create_app(settings=None)` and `SPEC`

Policies, chosen once:

- A token, when sent, is verified before forwarding (401 if bad); a request without
  one goes through and the service decides. Services verify again.
- Rate limits: every proxied request takes a token from its client's bucket (the
  peer address; X-Forwarded-For only from `trusted_proxies`), 50/s with bursts of
  100 by default; a write (POST, PUT, PATCH, DELETE) by a signed-in user also takes
  one from the user's bucket, 20/s with bursts of 40. Both are checked in one step,
  before a bad token's 401, so forged tokens cannot dodge the limit. A rate of 0
  turns a limit off (benchmarks do).
- Retries: one, on another instance; always after a refused or timed-out connect
  (nothing was sent), otherwise only for idempotent requests (GET, HEAD, OPTIONS,
  PUT, DELETE, or an Idempotency-Key). The route's timeout bounds the whole
  exchange; `attempt_timeout` lets a slow idempotent attempt be retried within it.
- Upstream answers are read whole (the body limit bounds requests; responses are
  the services' own) and relayed with hop-by-hop headers removed.
"""
