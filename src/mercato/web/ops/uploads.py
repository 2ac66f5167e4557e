"""A post with a file (a picture, a products file): the CSRF checks of `forms`, bounded.

`read_upload` is `forms.read_form` for a `multipart/form-data` post with one file: it
refuses a post from another site or without the session's token (`FormRefused`) the
same way, and a file larger than `max_bytes` (`UploadTooLarge`). The whole body is
bounded before that by the chassis (`MERCATO_WEB_MAX_BODY_BYTES`, 413) and, through
the gateway, by its own limit on a page's body.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.datastructures import UploadFile

from mercato.web.forms import CSRF_FIELD, MAX_FIELD_LENGTH, FormRefused, Posted
from mercato.web.forms import _check_origin as check_origin  # the same checks as a form's
from mercato.web.shopper import Shopper

__all__ = ["Upload", "UploadTooLarge", "read_upload"]

MAX_FIELDS = 20
CHUNK = 64 * 1024


class UploadTooLarge(Exception):
    """The file is larger than the console takes."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class Upload:
    """The file of a post: its name, type and bytes (empty when none was chosen)."""

    filename: str
    content_type: str
    data: bytes


async def _read(file: UploadFile, max_bytes: int) -> bytes:
    chunks, size = [], 0
    while chunk := await file.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(
    shopper: Shopper, *, field: str, max_bytes: int
) -> tuple[Posted, Upload | None]:
    """The fields and the file `field` of a post from this site's own form."""
    check_origin(shopper)
    values: dict[str, str] = {}
    upload: Upload | None = None
    too_large = False
    async with shopper.request.form(max_files=1, max_fields=MAX_FIELDS) as form:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != field or upload is not None:
                    continue
                try:
                    data = await _read(value, max_bytes)
                except UploadTooLarge:
                    too_large = True
                    continue
                upload = Upload(value.filename or "", value.content_type or "", data)
            else:
                values[name] = value[:MAX_FIELD_LENGTH]
    token = values.pop(CSRF_FIELD, "")
    record = shopper.record
    if record is None:
        raise FormRefused("no session")
    if not token or not hmac.compare_digest(token.encode(), record.csrf_secret.encode()):
        raise FormRefused("wrong or missing CSRF token")
    if too_large:
        raise UploadTooLarge(max_bytes)
    if upload is not None and not upload.data:
        upload = None  # a file input left empty sends an empty part
    return Posted(values), upload
