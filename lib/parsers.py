"""A JSON parser that enforces ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and refuses what cannot be stored.

DRF parsers read the request stream directly, past Django's size check on
``request.body``, so without this a body of any size would be parsed. JSON
also admits text that is not valid Unicode (a lone ``\\ud800`` escape) and
nesting deep enough to exhaust the parser; both are refused here as a 400,
instead of failing later in the database or the interpreter.
"""

import io
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
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
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        _require_valid_unicode(data)
        return data


def _require_valid_unicode(data) -> None:
    # Re-encoding is the fast (C) way to find a lone surrogate anywhere in the document.
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ParseError(
            "JSON parse error - the document contains a \\u escape that is not a valid character (a lone surrogate)."
        ) from None


def _content_length(meta) -> int:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
