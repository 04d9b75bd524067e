"""Request body parsing with a size bound the JSON parser otherwise lacks."""

import io
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.http.errors import PayloadTooLarge


class BoundedJSONParser(JSONParser):
    """DRF's strict JSON parser (no NaN/Infinity) that refuses bodies over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with 413, whatever Content-Length claims, and bodies nested
    deeper than Python's recursion limit with 400 (DRF lets that RecursionError become a 500).

    DRF reads the stream directly, bypassing Django's own body-size check.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                raise PayloadTooLarge()
            stream = io.BytesIO(raw)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
