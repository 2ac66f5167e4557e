"""Service tests of the console's access rules and its system page.

The web app runs in-process with every service served for real behind it
(`tests.support.console`); the system page scrapes their real `/health/ready` and
`/metrics`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mercato.web.ops.access import ADMINS_ONLY
from tests.support.console import Console, open_console
from tests.support.tokens import TokenFactory

OPS_PAGES = ("/ops", "/ops/system/fragment")


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens, down=("payments",)) as console:
        yield console


def cells(html: str, name: str) -> list[str]:
    """The cells of the table row headed `name`, as text."""
    row = re.search(rf"<th scope=\"row\"[^>]*>{re.escape(name)}</th>(.*?)</tr>", html, re.S)
    assert row is not None, f"no row {name!r}"
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
    ]


async def test_a_visitor_is_sent_to_log_in_and_comes_back(console: Console) -> None:
    visitor = console.browser()
    for path in OPS_PAGES:
        answer = await visitor.get(path)

        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={path.replace('/', '%2F')}"


async def test_a_customer_gets_403_on_every_console_page(console: Console) -> None:
    customer, _ = await console.customer()
    for path in OPS_PAGES:
        answer = await customer.get(path)

        assert answer.status_code == 403, path
        assert "text/html" in answer.headers["content-type"]
        assert ADMINS_ONLY in answer.text
        assert "catalog-1" not in answer.text


async def test_the_header_links_to_the_console_for_an_administrator_only(console: Console) -> None:
    customer, _ = await console.customer()
    admin = await console.admin()

    assert 'href="/ops"' not in (await customer.get("/")).text
    assert '<a href="/ops">Operations</a>' in (await admin.get("/")).text


async def test_the_system_page_shows_every_instance_with_its_health(console: Console) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops")

    assert answer.status_code == 200
    html = answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert '<a href="/ops" aria-current="page">System</a>' in html
    for name in ("auth", "users", "catalog", "orders", "logs", "web"):
        assert cells(html, f"{name}-1")[0] == "ready", name
        assert cells(html, name)[0] == "1 of 1 ready", name
    assert cells(html, "payments-1")[0].startswith("down")
    assert cells(html, "payments")[0] == "0 of 1 ready"
    assert "Rates appear from the next refresh" in html
    assert 'data-refresh="/ops/system/fragment"' in html
    assert '<a href="/ops">Refresh</a>' in html  # without JavaScript


async def test_the_second_look_shows_rates_errors_and_latency(console: Console) -> None:
    admin = await console.admin()
    await admin.get("/ops")
    monitor = console.app.state.ops_monitor
    monitor.min_interval = 0.0
    catalog = console.http("catalog")
    for _ in range(20):
        assert (await catalog.get("/api/catalog/products")).status_code == 200

    html = (await admin.get("/ops/system/fragment")).text

    rate, errors, p99 = cells(html, "catalog-1")[1:4]
    assert re.fullmatch(r"\d+(\.\d)?/s", rate) and float(rate[:-2]) > 0, rate
    assert errors == "0.0 %"
    assert re.fullmatch(r"\d+(\.\d)? ms", p99), p99
    assert "Rates over the last" in html
    assert cells(html, "payments-1")[1:4] == ["no data"] * 3


async def test_the_fragment_is_the_figures_alone(console: Console) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops/system/fragment")

    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert (
        "<html" not in answer.text
        and "<caption>Services and their instances</caption>" in answer.text
    )
