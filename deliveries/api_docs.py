"""OpenAPI documentation of the delivery status routes."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema

from lib.api_docs import (
    ID_FILTER_PARAMETER,
    ID_PARAMETER,
    MOMENT_PARAMETER,
    NOT_FOUND,
    SLUG_PARAMETER,
    common_errors,
    error_response,
    invalid,
    time_range_parameters,
)
from partners.api_docs import INVALID_ENDPOINT
from partners.serializers import PreviewSerializer, RenderedRequestSerializer, TestPostbackSerializer

from .models import Delivery
from .serializers import DeliveryAttemptSerializer, DeliveryDetailSerializer, DeliverySerializer

DELIVERY = {
    "id": 5012,
    "event": 90211,
    "endpoint": 3,
    "partner": "acme-affiliates",
    "event_type": "first_deposit",
    "status": "retrying",
    "attempts": 1,
    "next_attempt_at": "2026-11-23T10:00:31Z",
    "held_until": None,
    "delivered_at": None,
    "last_status_code": 503,
    "last_error": "HTTP 503 from the partner",
    "created_at": "2026-11-23T10:00:01.204518Z",
}
ATTEMPT = {
    "number": 1,
    "outcome": "retry",
    "started_at": "2026-11-23T10:00:01.310000Z",
    "finished_at": "2026-11-23T10:00:01.552000Z",
    "duration_ms": 242,
    "request_method": "GET",
    "request_url": "https://track.acme.example/postback?click=abc123&event=first_deposit",
    "status_code": 503,
    "error": "HTTP 503 from the partner",
    "error_class": "http_5xx",
    "response_excerpt": "Service Unavailable",
}

DELIVERY_FILTERS = [
    OpenApiParameter("status", {"type": "string", "enum": ["", *Delivery.Status.values]}),
    OpenApiParameter("partner", SLUG_PARAMETER, description="Partner slug."),
    OpenApiParameter("endpoint", ID_FILTER_PARAMETER, description="Postback endpoint id."),
    OpenApiParameter("event_type", str, description="The type the endpoint receives, e.g. first_deposit."),
    *time_range_parameters("created_at"),
]

DELIVERY_LIST = extend_schema(
    summary="List deliveries",
    description="Newest first; `attempts` is the number made so far. Cursor pagination (follow `next`).",
    parameters=DELIVERY_FILTERS,
    responses={200: DeliverySerializer(many=True), 400: invalid({"status": ["Unknown value 'sent'. …"]}),
               **common_errors()},
    examples=[OpenApiExample("A retrying delivery", value=DELIVERY, response_only=True)],
)

DELIVERY_RETRIEVE = extend_schema(
    summary="One delivery with its attempts",
    parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The delivery's id.")],
    description="Every HTTP attempt, oldest first. Request headers are never shown: they may hold credentials. "
    "The request URL and the partner's response excerpt are shown to admin keys; platform keys get null there.",
    responses={200: DeliveryDetailSerializer, 404: NOT_FOUND, **common_errors()},
    examples=[
        OpenApiExample(
            "After one failed attempt",
            value={**DELIVERY, "attempts": [ATTEMPT], "attempt_count": 1, "request_method": "GET",
                   "request_url": ATTEMPT["request_url"]},
            response_only=True,
        )
    ],
)

DELIVERY_RESEND = extend_schema(
    summary="Resend one delivery (admin)",
    description="Queues the delivery again with a fresh attempt budget, whatever its status; the partner gets the "
    "same `webhook-id`. 409 while an attempt is in flight.",
    request=None,
    responses={202: DeliveryDetailSerializer, 404: NOT_FOUND, 409: error_response(
        "An attempt is in flight", "This delivery is being sent right now; resend it once the attempt has finished."
    ), **common_errors()},
)

_FILTER_SCHEMAS = {
    "status": {"type": "string", "enum": ["", *Delivery.Status.values, None]},
    "partner": SLUG_PARAMETER,
    "endpoint": ID_PARAMETER,
    "event_type": {"type": "string"},
    "from": MOMENT_PARAMETER,
    "to": MOMENT_PARAMETER,
}
def _given(schema: dict) -> dict:
    """``schema`` for a filter that is set: not null, and text not empty."""
    if schema["type"] != "string":
        return schema
    return {**schema, "minLength": 1, **({"enum": [v for v in schema["enum"] if v]} if "enum" in schema else {})}


# The list's filters, at least one of them given (null or empty is the same as left out).
RESEND_FILTERS = {
    "type": "object",
    "properties": {name: {**schema, "nullable": True} for name, schema in _FILTER_SCHEMAS.items()},
    "anyOf": [
        {"required": [name], "properties": {name: _given(schema)}}
        for name, schema in _FILTER_SCHEMAS.items()
    ],
    "example": {"status": "failed", "partner": "acme-affiliates"},
}

DELIVERY_RESEND_MANY = extend_schema(
    # The one-delivery resend would otherwise get the same generated operationId.
    operation_id="v1_deliveries_resend_matching",
    summary="Resend deliveries by filter (admin)",
    description="Body: the list's filters, at least one: `status`, `partner`, `endpoint`, `event_type`, `from`, "
    "`to`. Answers with how many were queued again.",
    request={"application/json": RESEND_FILTERS},
    responses={202: {"type": "object", "properties": {"resent": {"type": "integer"}}},
               400: invalid({"non_field_errors": ["Give at least one filter …"]}), **common_errors()},
)


ENDPOINT_PREVIEW = extend_schema(
    summary="Render the endpoint's request without sending it",
    description="For a stored event (`event`) or a sample one; unsaved template changes may be given to try them "
    "first. The signature header is masked.",
    request=PreviewSerializer,
    responses={200: RenderedRequestSerializer, 400: INVALID_ENDPOINT, 404: NOT_FOUND, **common_errors()},
)
ENDPOINT_TEST = extend_schema(
    summary="Send a test postback now",
    description="Sends a sample event to the endpoint, paused or not, and answers with the attempt. Test events "
    "are kept out of statistics and are not retried.",
    request=TestPostbackSerializer,
    responses={200: DeliveryAttemptSerializer, 400: invalid({"event_type": ["Object with slug=x does not exist."]}),
               404: NOT_FOUND, **common_errors()},
)
