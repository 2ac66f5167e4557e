"""Unit tests of client-side balancing: the pool's rotation and base-URL settings."""

from __future__ import annotations

import pytest

from mercato.chassis.client.balancing import Pool, parse_base_urls
from tests.support.clock import ManualClock


def _picks(pool: Pool, count: int) -> list[str]:
    picked = [pool.pick() for _ in range(count)]
    return [i.url.removeprefix("http://") for i in picked if i is not None]


def test_round_robin_skips_instances_marked_down_until_they_recover() -> None:
    clock = ManualClock(100.0)
    pool = Pool("catalog", ["http://a", "http://b", "http://c"], down_seconds=2, clock=clock)
    assert _picks(pool, 4) == ["a", "b", "c", "a"]
    pool.mark_down(pool.instances[1])
    assert _picks(pool, 4) == ["c", "a", "c", "a"]
    clock.now += 2.5
    assert sorted(_picks(pool, 3)) == ["a", "b", "c"]


def test_when_every_instance_is_down_they_are_still_offered() -> None:
    clock = ManualClock(100.0)
    pool = Pool("catalog", ["http://a", "http://b"], clock=clock)
    for instance in pool.instances:
        pool.mark_down(instance)
    assert pool.pick() is not None


def test_a_retry_excludes_tried_instances_without_moving_the_rotation() -> None:
    pool = Pool("catalog", ["http://a", "http://b"])
    first = pool.pick()
    assert first is not None
    second = pool.pick([first])
    assert second is not None and second is not first
    assert pool.pick([first, second]) is None
    assert pool.pick() is second  # the rotation moved once


def test_base_urls_are_a_comma_separated_list_and_one_url_is_a_list_of_one() -> None:
    assert parse_base_urls("http://a:1", "catalog") == ("http://a:1",)
    assert parse_base_urls(" http://a:1/ , https://b/prefix/,", "catalog") == (
        "http://a:1",
        "https://b/prefix",
    )


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "no instance URL"),
        (" , ", "no instance URL"),
        ("ftp://a", "http:// or https://"),
        ("http://", "http:// or https://"),
        ("http://a:x", "not a valid URL"),
        ("http://a:0", "port 0"),
        ("http://a/?q=1", "no query or fragment"),
        ("http://a,http://a/", "twice"),
    ],
)
def test_bad_base_urls_are_refused_naming_the_service(value: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as caught:
        parse_base_urls(value, "catalog")
    assert str(caught.value).startswith("catalog")


def test_credentials_in_a_base_url_are_refused_without_being_echoed() -> None:
    with pytest.raises(ValueError, match="user name or password") as caught:
        parse_base_urls("http://me:s3cret@a:1", "payments")
    assert "s3cret" not in str(caught.value)
