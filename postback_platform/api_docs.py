"""OpenAPI pieces every API module shares: the error body and the usual error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .api_errors import VALIDATION_DETAIL


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong and how to fix it.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Reasons per field (nested fields joined with dots); empty when no field is to blame.",
    )


def error_response(description: str, detail: str, errors: dict | None = None) -> OpenApiResponse:
    example = OpenApiExample(description, value={"detail": detail, "errors": errors or {}})
    return OpenApiResponse(ErrorSerializer, description=description, examples=[example])


UNAUTHENTICATED = error_response("No or an invalid API key", "Invalid or revoked API key.")
FORBIDDEN = error_response("The key's role may not do this", "This route needs an API key with the admin role.")
THROTTLED = error_response(
    "Too many requests for this API key; retry after the Retry-After header's seconds",
    "Request was throttled. Expected available in 12 seconds.",
)
NOT_FOUND = error_response("No such object", "No event with id 99.")


def time_range_parameters(field: str) -> list[OpenApiParameter]:
    """``from`` / ``to`` on ``field`` and ``page_size``, as ``events.filter_params`` reads them."""
    return [
        OpenApiParameter("from", str, description=f"{field} at or after: 2026-11-23 or 2026-11-23T10:00:00Z."),
        OpenApiParameter("to", str, description=f"{field} before; a plain date includes that whole day."),
        OpenApiParameter("page_size", int, description="Items per page, 1 to 1000 (default 100)."),
    ]


def invalid(errors: dict) -> OpenApiResponse:
    return error_response("Invalid input", VALIDATION_DETAIL, errors)


def common_errors(more: dict[int, OpenApiResponse] | None = None) -> dict[int, OpenApiResponse]:
    """The 401 / 403 / 429 answers every route can give, plus ``more`` keyed by status code."""
    return {401: UNAUTHENTICATED, 403: FORBIDDEN, 429: THROTTLED, **(more or {})}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <api key>`` for every API route."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made with `manage.py create_api_key NAME --role platform|admin`.",
        }
