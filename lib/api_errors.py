"""One error format for the whole REST API.

Every error answer is ``{"detail": "<what went wrong and how to fix it>",
"errors": {"<field>": ["<reason>", …]}}``; ``errors`` is empty when no
particular field is to blame; an exception may name one through its
``field_errors`` attribute. Nested fields are named with dots
(``events.3.amount``). DRF's own headers, such as ``Retry-After`` on a 429,
are kept.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

VALIDATION_DETAIL = "The request has invalid fields; see errors for each one."


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self):
        super().__init__(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes. Send fewer events "
            "per batch or smaller params."
        )


class Conflict(APIException):
    """A well-formed request that clashes with what is stored (a reused id, a taken slug, a delivery being sent):
    409, naming the fields to blame when there are some."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, detail: str, field_errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.field_errors = field_errors or {}


def api_exception_handler(exc, context) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    if response is not None:
        response.data = error_body(exc, response.data)
    return response


def error_body(exc, data) -> dict:
    if isinstance(exc, ValidationError):
        return {"detail": VALIDATION_DETAIL, "errors": field_errors(data)}
    detail = data.get("detail", "") if isinstance(data, dict) else data
    return {"detail": str(detail), "errors": getattr(exc, "field_errors", {})}


def field_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error structure into ``{"a.b.0.c": [messages]}``."""
    if isinstance(data, dict):
        flat: dict[str, list[str]] = {}
        for key, value in data.items():
            flat.update(field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(data, list) and any(isinstance(item, (dict, list)) for item in data):
        flat = {}
        for index, value in enumerate(data):
            flat.update(field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = data if isinstance(data, list) else [data]
    return {prefix or "non_field_errors": [str(message) for message in messages]} if messages else {}


def not_found(request, exception=None):
    """Django's 404 for paths no route matches: JSON in the API's format under /api/, the usual page elsewhere."""
    if not request.path.startswith("/api/"):
        return page_not_found(request, exception)
    detail = f"No API route matches {request.path}. The routes are listed at /api/docs/."
    return JsonResponse({"detail": detail, "errors": {}}, status=status.HTTP_404_NOT_FOUND)
