"""A JSON parser that enforces ``DATA_UPLOAD_MAX_MEMORY_SIZE``.

DRF parsers read the request stream directly, past Django's size check on
``request.body``, so without this a body of any size would be parsed.
"""

import io

from django.conf import settings
from rest_framework.parsers import JSONParser

from .api_errors import PayloadTooLarge


class SizeLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = _content_length(request.META if request is not None else {})
        body = b"" if declared > limit else stream.read(limit + 1)
        if declared > limit or len(body) > limit:
            raise PayloadTooLarge()
        return super().parse(io.BytesIO(body), media_type, parser_context)


def _content_length(meta) -> int:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
