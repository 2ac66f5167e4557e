"""Every operation of every service, fuzzed through the gateway: no 5xx, no undocumented answer.

Schemathesis reads each service's OpenAPI document from the gateway and sends what it
derives from it: first the boundary cases of every field and parameter (its coverage
phase: limits, wrong types, missing fields, odd strings), then random valid and
invalid requests, then sequences that feed one answer's ids into the next request
(its stateful phase, on links it infers: create a product, then patch or restock
it). A 400, 401, 403, 404, 409, 413, 415, 422 or 429 is a fine answer to such input,
a 500 or a hang is not; and every answer must have a content type and a shape that
the document gives for its status (`CHECKS`), which caught the document offering
FastAPI's 422 shape in `application/json` for what is a problem+json answer.
Run by hand, it found 500s in every service on PostgreSQL and a product that broke
the public listing on SQLite; so it runs on both: on the NATS system (SQLite, as
`mercato up` starts by default) and on a system of its own whose services keep
their data in PostgreSQL, which is stricter about what it stores. It is a net, not a
proof: rules it cannot know (an existing category, a free SKU, a Luhn-valid card)
turn most generated writes away before they are stored, so a bug behind them can
slip through (with the NUL check of `chassis.web.json_body` switched off, 15 examples
per operation did not find the 500 on PostgreSQL); the targeted cases stay in
`tests/integration`.

It runs as an administrator of its own (one per service, promoted by the configured
admin), so that admin routes are reached, and each account has its own share of the
gateway's per-user write rate. The e2e system's rate limits are far above what the run
sends (`tests.e2e.system`; at the defaults it spent most of its time waiting); should
one answer 429 all the same, `--rate-limit auto` waits it out and sends the request
again, so a limit never hides a route (auth aside, see `WAITS_OUT_429`). Three
operations are left out, each tested on its own elsewhere, because they act on the caller's
session rather than on the input: logout revokes the very token the run uses, a
signing-key rotation per generated case would churn the keys every other test's
tokens rely on, and a role change revokes the account's tokens (and the fuzzer
learns the configured admin's id from the listings).

The seed is fixed, so a run repeats what the last one sent and main stays green on
a fixed set of cases (a new seed is a deliberate change, run by hand first). Input
handling does not depend on the broker, so the RabbitMQ system is not fuzzed; on
the NATS system the module runs last (see `conftest.pytest_collection_modifyitems`),
because it leaves random products, carts and payment methods behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.client import PASSWORD, Account, Shop, System

SERVICES = ["auth", "users", "catalog", "orders", "payments", "logs", "shipping", "notifications"]
# No 5xx, and every answer, error or not, in a content type and shape the document
# gives for it (errors: problem+json, see `chassis.web.openapi`).
CHECKS = ["not_a_server_error", "response_schema_conformance", "content_type_conformance"]
# More examples, or another seed, fuzz harder: MERCATO_FUZZ_EXAMPLES=200 MERCATO_FUZZ_SEED=7.
EXAMPLES_PER_OPERATION = int(os.environ.get("MERCATO_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("MERCATO_FUZZ_SEED", "1"))
MIN_CASES = 100  # every service has more: fewer means it reached too little
TIMEOUT_SECONDS = 600
# `--rate-limit auto` waits out a 429 and sends the request again. Not for auth: its
# login throttle answers 429 with a Retry-After of minutes (the failure window), and
# 100 examples per operation waited past the time limit.
WAITS_OUT_429 = set(SERVICES) - {"auth"}
LEFT_OUT = ["/api/auth/logout", "/api/auth/keys/rotate", "/api/auth/users/{user_id}/roles"]


def fuzzing_admin(shop: Shop, admin: Account, service: str) -> Account:
    """A new account with the admin role, logged in after the promotion."""
    email = f"fuzz-{service}-{uuid.uuid4().hex[:8]}@example.com"
    user = shop.register(email, name=f"Fuzzer of {service}")
    promoted = shop.http.put(
        f"/api/auth/users/{user['id']}/roles",
        json={"roles": ["customer", "admin"]},
        headers=admin.headers,
    )
    assert promoted.status_code == 200, promoted.text
    return Account(user["id"], email, PASSWORD, user["name"], shop.login(email))


def schemathesis_command() -> str:
    """The schemathesis CLI installed beside this interpreter."""
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command, "schemathesis is not installed (it is a dev dependency)"
    return command


@pytest.mark.parametrize("system", ["nats", "postgres"], indirect=True)
@pytest.mark.parametrize("service", SERVICES)
def test_every_generated_request_gets_a_documented_answer_and_no_5xx(
    shop: Shop, admin: Account, system: System, service: str, tmp_path: Path
) -> None:
    fuzzer = fuzzing_admin(shop, admin, service)
    command = [schemathesis_command(), "run", f"{system.base_url}/api/{service}/openapi.json"]
    command += ["--url", system.base_url, "--header", f"Authorization: Bearer {fuzzer.access}"]
    command += ["--checks", ",".join(CHECKS), "--phases", "coverage,fuzzing,stateful"]
    command += ["--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED)]
    command += ["--generation-database", "none", "--workers", "1"]
    command += ["--request-timeout", "20", "--no-color"]
    if service in WAITS_OUT_429:
        command += ["--rate-limit", "auto"]
    for path in LEFT_OUT:
        if path.startswith(f"/api/{service}/"):
            command += ["--exclude-path", path]

    try:
        run = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            cwd=tmp_path,  # its report folder, if any, stays out of the checkout
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        so_far: str | bytes = expired.stdout or b""  # bytes here, even with text=True
        if isinstance(so_far, bytes):
            so_far = so_far.decode(errors="replace")
        pytest.fail(f"schemathesis ran past {TIMEOUT_SECONDS} s:\n{so_far}", pytrace=False)

    if run.returncode != 0:
        pytest.fail(f"schemathesis exited with {run.returncode}:\n{run.stdout}", pytrace=False)
    generated = re.search(r"(\d+) generated", run.stdout)
    assert generated, run.stdout
    assert int(generated[1]) >= MIN_CASES, run.stdout
