"""Responses encoded with orjson, for hot endpoints that build their JSON themselves.

FastAPI serialises declared response models with pydantic directly (and deprecates
its ORJSONResponse); this class is for routes that return plain dicts or lists.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["JsonResponse"]


class JsonResponse(Response):
    """JSON encoded with orjson; UTC datetimes end in `Z`, as pydantic writes them."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode `content`."""
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)
