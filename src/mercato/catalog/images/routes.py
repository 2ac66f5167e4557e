"""The HTTP API of product images: upload, list and delete (admin), and serve (anyone).

An upload is `multipart/form-data` with one part, `file`, on an upload route of the
chassis (`UPLOAD_ROUTES`, bounded by `max_upload_bytes` as it arrives, see
`chassis.web.uploads`); the gateway lists the same route. A variant is served as
`image/webp` with `Cache-Control: public, max-age=31536000, immutable` (a picture
never changes under its URL: a new one gets a new id), a strong `ETag`, and 304 to
an `If-None-Match` that names it; HEAD is answered as GET.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from mercato.catalog.images import service as images
from mercato.catalog.images.links import IMAGES_PATH
from mercato.catalog.images.processing import FORMATS, SERVED_TYPE
from mercato.catalog.images.schemas import ImageList, ImageOut
from mercato.catalog.settings import CatalogRuntime
from mercato.chassis.security.tokens import Admin
from mercato.chassis.web.dependencies import SessionDep, get_runtime, runtime_of
from mercato.chassis.web.direct_routes import direct_route
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.uploads import MULTIPART, read_file

__all__ = ["IMMUTABLE", "UPLOAD_ROUTES", "router", "tag_matches"]

router = APIRouter(prefix="/api/catalog", tags=["catalog"], route_class=StrictJsonRoute)
UPLOAD_ROUTES = ("POST /api/catalog/products/*/images",)
IMMUTABLE = "public, max-age=31536000, immutable"
Catalog = Annotated[CatalogRuntime, Depends(runtime_of)]
ProductId = Annotated[str, Path(description="The product's id.")]
ImageId = Annotated[str, Path(description="The picture's id (a UUID).")]
VariantName = Annotated[
    Literal["thumb", "medium", "large"],
    Path(description="Which size: fitted into 200, 600 or 1200 pixels square."),
]
ACCEPTED = ", ".join(FORMATS.values())
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": [images.FILE_FIELD],
                    "properties": {
                        images.FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": f"The picture: {ACCEPTED}.",
                        }
                    },
                    "additionalProperties": False,
                },
                "encoding": {images.FILE_FIELD: {"contentType": ACCEPTED}},
                "example": {images.FILE_FIELD: "(the bytes of a PNG, JPEG, WebP or GIF file)"},
            }
        },
    }
}
IF_NONE_MATCH: dict[str, Any] = {
    "parameters": [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "Entity tags already held: 304 when one is the variant's.",
            "schema": {"type": "string"},
        }
    ]
}
_CACHED = {
    "Cache-Control": {"description": IMMUTABLE, "schema": {"type": "string"}},
    "ETag": {"description": "The variant's entity tag (strong).", "schema": {"type": "string"}},
}
NO_IMAGE = "No such picture, or no such size of it."


@router.post(
    "/products/{product_id}/images",
    status_code=201,
    response_model=ImageOut,
    openapi_extra=UPLOAD_BODY,
    responses=problems(
        {
            400: f"The {MULTIPART} body is malformed or cut short.",
            404: "No such product.",
            409: "The product has as many pictures as it may, or a concurrent change "
            "conflicts; retry.",
            413: "The body (the file and its framing) is larger than `max_upload_bytes`.",
            415: f"The body is not {MULTIPART}.",
            422: "`file` is missing, empty, sent twice, beside another field, not a PNG, "
            "JPEG, WebP or GIF image that decodes, or has too many pixels.",
        }
    ),
)
async def upload_image(
    request: Request, product_id: ProductId, session: SessionDep, runtime: Catalog, _: Admin
) -> Response:
    """Add a picture to a product (admin): stored in three sizes, listed in its `images`."""
    settings = runtime.settings
    limit = settings.images_per_product
    await images.check_room(runtime.database, product_id=product_id, limit=limit)
    upload = await read_file(request, field=images.FILE_FIELD, max_bytes=settings.max_upload_bytes)
    picture = await images.picture_of_upload(upload.data, max_pixels=settings.image_max_pixels)
    body = await images.add_image(
        session, outbox=runtime.outbox, product_id=product_id, picture=picture, limit=limit
    )
    return JsonResponse(body, status_code=201, headers={"Location": body["url"]})


@router.get(
    "/products/{product_id}/images",
    response_model=ImageList,
    responses=problems({404: "No such product."}),
)
async def list_images(product_id: ProductId, runtime: Catalog) -> Response:
    """A product's pictures, oldest first."""
    items = await images.list_images(runtime.database, product_id=product_id)
    return JsonResponse({"items": items, "next_cursor": None})


@router.delete(
    "/products/{product_id}/images/{image_id}",
    status_code=204,
    responses=problems(
        {404: "No such product, or it has no such picture.", 409: "A concurrent change; retry."}
    ),
)
async def delete_image(
    product_id: ProductId, image_id: ImageId, session: SessionDep, runtime: Catalog, _: Admin
) -> Response:
    """Delete a picture of a product (admin), and its URLs from the product."""
    await images.delete_image(
        session, outbox=runtime.outbox, product_id=product_id, image_id=image_id
    )
    return Response(status_code=204)


def tag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an `If-None-Match` names `etag` (weak comparison, RFC 9110 13.1.2)."""
    for candidate in if_none_match.split(","):
        tag = candidate.strip().removeprefix("W/")
        if tag in ("*", f'"{etag}"'):
            return True
    return False


def _cached(etag: str) -> dict[str, str]:
    return {"Cache-Control": IMMUTABLE, "ETag": f'"{etag}"', "X-Content-Type-Options": "nosniff"}


# Public and cached for a year: a direct route (`chassis.web.direct_routes`), whose
# revalidation reads the tag alone.
@direct_route(
    router,
    IMAGES_PATH.removeprefix(router.prefix) + "/{image_id}/{variant}.webp",
    response_class=Response,
    openapi_extra=IF_NONE_MATCH,
    responses={
        200: {"description": "The variant.", "content": {SERVED_TYPE: {}}, "headers": _CACHED},
        304: {"description": "Not modified: `If-None-Match` names it.", "headers": _CACHED},
        **problems({404: NO_IMAGE}),
    },
)
async def read_image(request: Request, image_id: ImageId, variant: VariantName) -> Response:
    """One size of a picture, cached by anyone for a year."""
    reader = get_runtime(request).database.reader
    held = request.headers.get("if-none-match")
    if held is not None:
        etag = await images.variant_tag(reader, image_id=image_id, variant=variant)
        if tag_matches(held, etag):
            return Response(status_code=304, headers=_cached(etag))
    row = await images.find_variant(reader, image_id=image_id, variant=variant)
    return Response(row["data"], media_type=row["content_type"], headers=_cached(row["etag"]))
