"""OpenAPI documentation of the event routes: parameters, bodies and examples."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from deliveries.api_docs import DELIVERY as STATUS_API_DELIVERY
from events.api_docs import EVENT_FILTERS
from events.selectors import event_types_requiring_amount
from lib.api_docs import (
    NOT_FOUND,
    common_errors,
    error_response,
    invalid,
)

from .serializers import (
    EventBatchResultSerializer,
    EventSerializer,
    IngestedEventSerializer,
    PlayerErasureSerializer,
    ReversalSerializer,
    ReverseByEventIdInputSerializer,
    ReverseInputSerializer,
)
from .validation import BATCH_BODY, EVENT_BODY, BatchBody, Catalog, EventBody

DEPOSIT = {
    "event_id": "dep-2026-11-23-000417",
    "type": "deposit",
    "player_id": "p-1001",
    "occurred_at": "2026-11-23T10:00:00Z",
    "partner": "acme-affiliates",
    "click_id": "abc123",
    "amount": "25.00",
    "currency": "EUR",
    "params": {"sub1": "campaign-7", "country": "DE"},
}
REGISTRATION = {
    "event_id": "reg-2026-11-23-000311",
    "type": "registration",
    "player_id": "p-1002",
    "partner": "acme-affiliates",
    "click_id": "xyz789",
    "params": {"sub1": "campaign-7"},
}
ORGANIC_REGISTRATION = {"event_id": "reg-2026-11-23-000312", "type": "registration", "player_id": "p-1003"}
DELIVERY = {
    **STATUS_API_DELIVERY,
    "status": "pending",
    "attempts": 0,
    "next_attempt_at": "2026-11-23T10:00:01.204518Z",
    "held_until": None,
    "last_status_code": None,
    "last_error": "",
}
STORED_DEPOSIT = {
    "id": 90211,
    **{key: DEPOSIT[key] for key in ("event_id", "type", "player_id", "partner", "click_id", "amount", "currency")},
    "params": DEPOSIT["params"],
    "inherited_params": {},
    "occurred_at": "2026-11-23T10:00:00Z",
    "received_at": "2026-11-23T10:00:01.204518Z",
    "is_first_deposit": True,
    "reversed_at": None,
    "deliveries": [DELIVERY],
}

EVENT_CREATE = extend_schema(
    summary="Ingest one event",
    description=(
        "Validates, deduplicates by `event_id`, attributes and stores one event, and creates its deliveries in "
        "the same transaction. `201` when stored; `200` with the stored event when the same `event_id` comes "
        "again with the same content; `409` when it comes with different content. A player is attributed to "
        "the first partner an event names; a later event naming another partner is stored for the original "
        "partner and says so in `warnings`."
    ),
    request=EVENT_BODY,
    responses={
        201: OpenApiResponse(IngestedEventSerializer, description="Stored"),
        200: OpenApiResponse(IngestedEventSerializer, description="Already stored with the same content"),
        400: invalid({"amount": ["Must be greater than zero. Send a positive decimal, preferably as a string such "
                                 "as \"25.00\"."],
                      "type": ["Unknown event type 'deposite'. Allowed types: conversion, deposit, first_deposit, "
                               "game_activity, registration, withdrawal."]}),
        409: error_response(
            "The event_id is already used by an event with different content",
            "event_id 'dep-2026-11-23-000417' is already used by event 90211 with different content (differs in: "
            "amount). Resend the original content, or use a new event_id for a new event.",
            {"event_id": ["event_id 'dep-2026-11-23-000417' is already used by event 90211 with different "
                          "content (differs in: amount). …"]},
        ),
        413: error_response("The body is too large", "The request body is larger than 5242880 bytes. …"),
        **common_errors(),
    },
    examples=[
        OpenApiExample("A deposit", value=DEPOSIT, request_only=True),
        OpenApiExample("A registration", value=REGISTRATION, request_only=True),
        OpenApiExample("An organic registration: no partner, so only global endpoints receive it",
                       value=ORGANIC_REGISTRATION, request_only=True),
        OpenApiExample("Stored", value={**STORED_DEPOSIT, "warnings": []}, response_only=True, status_codes=["201"]),
        OpenApiExample("Replay", value={**STORED_DEPOSIT, "warnings": []}, response_only=True, status_codes=["200"]),
    ],
)

EVENT_BATCH = extend_schema(
    summary="Ingest up to 1,000 events",
    description=(
        "Each item is handled as `POST /api/v1/events/` would, and gets one result, in order: `created`, "
        "`duplicate`, `conflict` or `error` with its errors. One bad item never rejects the others. More than "
        "1,000 items is a `400`."
    ),
    request=BATCH_BODY,
    responses={
        200: EventBatchResultSerializer,
        400: invalid({"events": ["At most 1,000 events per batch; this one has 1,200. Split it."]}),
        413: error_response("The body is too large", "The request body is larger than 5242880 bytes. …"),
        **common_errors(),
    },
    examples=[
        OpenApiExample("Two events and a bad one", value={"events": [DEPOSIT, REGISTRATION, {"event_id": "x"}]},
                       request_only=True),
        OpenApiExample(
            "Results",
            value={
                "created": 1, "duplicate": 1, "conflict": 0, "error": 1,
                "results": [
                    {"index": 0, "event_id": DEPOSIT["event_id"], "status": "duplicate", "id": 90211,
                     "is_first_deposit": True},
                    {"index": 1, "event_id": REGISTRATION["event_id"], "status": "created", "id": 90212,
                     "is_first_deposit": False},
                    {"index": 2, "event_id": "x", "status": "error",
                     "errors": {"type": ["This field is required."], "player_id": ["This field is required."]}},
                ],
            },
            response_only=True,
        ),
    ],
)

EVENT_LIST = extend_schema(
    summary="List events",
    description="Newest first, with their deliveries; cursor pagination (follow `next`).",
    parameters=EVENT_FILTERS,
    responses={200: EventSerializer(many=True), 400: invalid({"from": ["'yesterday' is not a date …"]}),
               **common_errors()},
    examples=[
        OpenApiExample(
            "One page",
            value={"next": "http://127.0.0.1:8000/api/v1/events/?cursor=cD0yMDI2", "previous": None,
                   "results": [STORED_DEPOSIT]},
            response_only=True,
        )
    ],
)

EVENT_RETRIEVE = extend_schema(
    summary="One event with its deliveries and their statuses",
    parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The event's id on this platform.")],
    responses={200: EventSerializer, 404: NOT_FOUND, **common_errors()},
    examples=[OpenApiExample("A first deposit", value=STORED_DEPOSIT, response_only=True)],
)

REVERSAL = {
    "id": 90377,
    "event_id": "reversal-of-90211",
    "type": "reversal",
    **{key: STORED_DEPOSIT[key] for key in ("player_id", "partner", "click_id", "amount", "currency", "params")},
    "occurred_at": "2026-11-25T08:12:40.511203Z",
    "received_at": "2026-11-25T08:12:40.511203Z",
    "is_first_deposit": False,
    "reversed_at": None,
    "deliveries": [{**DELIVERY, "id": 7802, "event": 90377, "event_type": "reversal"}],
    "reverses": {"id": 90211, "event_id": DEPOSIT["event_id"], "type": "deposit",
                 "reversed_at": "2026-11-25T08:12:40.511203Z"},
    "reason": "chargeback",
    "cancelled": 0,
}
_REVERSE_DESCRIPTION = (
    "Every endpoint that received the original (or is sending it right now) gets a follow-up postback of type "
    "`reversal`, whose `{original_event_id}`, `{original_event_type}` and `{reversal_reason}` macros name what is "
    "reversed, and whose `{payout}` is what the partner earned for the original. A postback of the original that "
    "has not gone out yet is cancelled instead (`cancelled` counts them). The original's amount and payout stop "
    "counting in the statistics. `201` the first time; `200` with the same reversal and nothing new after that."
)
_REVERSE_ANSWERS = {
    200: OpenApiResponse(ReversalSerializer, description="Reversed before: the same reversal, nothing new."),
    201: ReversalSerializer,
    400: invalid({"reason": ['"refund" is not a valid choice.']}),
    404: NOT_FOUND,
    **common_errors(),
}

EVENT_REVERSE = extend_schema(
    operation_id="v1_events_reverse",
    summary="Reverse a stored event (chargeback, fraud, cancelled)",
    description=_REVERSE_DESCRIPTION,
    parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The event's id on this platform.")],
    request=ReverseInputSerializer,
    responses=_REVERSE_ANSWERS,
    examples=[
        OpenApiExample("A chargeback", value={"reason": "chargeback"}, request_only=True),
        OpenApiExample("Reversed", value=REVERSAL, response_only=True, status_codes=["201", "200"]),
    ],
)

EVENT_REVERSE_BY_EVENT_ID = extend_schema(
    operation_id="v1_events_reverse_by_event_id",
    summary="Reverse a stored event found by the platform's event_id",
    description=_REVERSE_DESCRIPTION,
    request=ReverseByEventIdInputSerializer,
    responses=_REVERSE_ANSWERS,
    examples=[
        OpenApiExample("A chargeback", value={"event_id": DEPOSIT["event_id"], "reason": "chargeback"},
                       request_only=True),
        OpenApiExample("Reversed", value=REVERSAL, response_only=True, status_codes=["201", "200"]),
    ],
)

ERASED = {
    "id": 17,
    "status": "erased",
    "pseudonym": "erased-3f9c2b7e51d04a86b1e0c4d27a9f6e13",
    "erased_at": "2026-12-04T09:30:00.512044Z",
    "requested_by": "API key privacy-desk (4f9a1c2e…)",
    "changed": {"players": 1, "events": 42, "deliveries": 80, "deliveries_cancelled": 2, "attempts": 95,
                "statistics_days": 31},
}

PLAYER_ERASE = extend_schema(
    summary="Erase a player's personal values (admin)",
    description=(
        "In one transaction: the player id becomes a keyed pseudonym on the player and its events; click id, "
        "tracking params and event params are emptied; the rendered request URLs, bodies and headers and the "
        "response excerpts and error texts of its deliveries and attempts are emptied; its pending and retrying "
        "deliveries are cancelled (`last_error`: `player erased`). Event ids, types, times, amounts, partners "
        "and delivery statuses stay, so statistics keep counting the player (under its pseudonym once the "
        "roll-up refreshes the marked days). An audit record keeps who asked, when and how many rows changed. "
        "Calling again answers `200` with `already_erased` and the same pseudonym. A later event for the same "
        "`player_id` starts a new player."
    ),
    parameters=[OpenApiParameter(
        "player_id", str, OpenApiParameter.PATH, description="The platform's player id (or a pseudonym)."
    )],
    request=None,
    responses={
        200: PlayerErasureSerializer,
        404: error_response("No such player", "No player with this id, and none was erased under it."),
        409: error_response(
            "The id came back and was erased too often", "This player id has been erased 100 times already."
        ),
        **common_errors(),
    },
    examples=[
        OpenApiExample("Erased", value=ERASED, response_only=True),
        OpenApiExample(
            "Erased before",
            value={**ERASED, "id": 18, "status": "already_erased",
                   "changed": dict.fromkeys(ERASED["changed"], 0)},
            response_only=True,
        ),
    ],
)



class EventBodySchema(OpenApiSerializerExtension):
    """The event body's component: JSON Schema generated by ``ingest.validation``'s definition, which also
    validates it. Generated for each schema request, so the event types offered are the configured ones."""

    target_class = EventBody

    def get_name(self) -> str:
        return self.target.name

    def map_serializer(self, auto_schema, direction) -> dict:
        return self.target.json_schema(Catalog(amount_required=event_types_requiring_amount(), partners={}))


class BatchBodySchema(OpenApiSerializerExtension):
    """The batch envelope's component, from its definition; each item refers to the event body's component."""

    target_class = BatchBody

    def get_name(self) -> str:
        return self.target.name

    def map_serializer(self, auto_schema, direction) -> dict:
        return self.target.json_schema(auto_schema.resolve_serializer(EVENT_BODY, direction).ref)


def event_input_constraints(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the event type filters of lists, exports and statistics."""
    _event_type_parameters_constrain(result, ["", *event_types_requiring_amount()])
    return result


def _event_type_parameters_constrain(result: dict, slugs: list[str]) -> None:
    """The event type filters of lists, exports and statistics take the slugs of event types (empty: all)."""
    for operations in result["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "query" and parameter["name"] in ("type", "event_type"):
                    parameter["schema"] = {"type": "string", "enum": slugs}
