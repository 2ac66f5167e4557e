"""Unit tests of the catalog's own picture URLs and how a product's lists of them change."""

from __future__ import annotations

from mercato.catalog.images.links import (
    image_id_of,
    is_image_id,
    variant_url,
    variant_urls,
    with_image,
    without_image,
)

A = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
B = "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f"
ELSEWHERE = "https://cdn.example.com/kettle.jpg"


def test_urls_are_paths_from_the_shops_origin() -> None:
    assert variant_url(A, "medium") == f"/api/catalog/images/{A}/medium.webp"
    assert list(variant_urls(A)) == ["thumb", "medium", "large"]
    assert image_id_of(variant_url(A, "thumb")) == A
    for other in (ELSEWHERE, None, f"/api/catalog/images/{A}/huge.webp", f"https://x{A}"):
        assert image_id_of(other) is None
    assert is_image_id(A) and not is_image_id(A.upper()) and not is_image_id("../etc")


def test_an_added_picture_is_listed_last_and_becomes_the_thumbnail_unless_one_is_own() -> None:
    images, thumbnail = with_image([ELSEWHERE], ELSEWHERE, A)
    assert images == [ELSEWHERE, variant_url(A, "medium")]
    assert thumbnail == variant_url(A, "thumb")  # an own picture wins over another site's
    images, thumbnail = with_image(images, thumbnail, B)
    assert images[-1] == variant_url(B, "medium")
    assert thumbnail == variant_url(A, "thumb")  # the first own one stays


def test_a_removed_picture_takes_every_url_of_it_away() -> None:
    images = [
        variant_url(A, "large"),
        ELSEWHERE,
        variant_url(B, "medium"),
        variant_url(A, "medium"),
    ]
    listed, thumbnail = without_image(images, variant_url(A, "thumb"), A)
    assert listed == [ELSEWHERE, variant_url(B, "medium")]
    assert thumbnail == variant_url(B, "thumb")  # the next own picture's
    assert without_image(listed, thumbnail, B) == ([ELSEWHERE], None)
    assert without_image([ELSEWHERE], ELSEWHERE, A) == ([ELSEWHERE], ELSEWHERE)
