"""OpenAPI pieces every API module shares: the error body and the usual error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .api_errors import VALIDATION_DETAIL
from .pagination import PAGE_SIZE_DESCRIPTION, PAGE_SIZE_SCHEMA


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


# A calendar date from year 1000 to 9998 (so that a day's end or an offset stays within what a
# date-time can hold), February 29 in leap years only.
_YEAR = r"(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP_YEAR = r"(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)"
MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
DATE = rf"(?:{_YEAR}-{MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# What ``events.filter_params`` takes for ``from`` and ``to``; empty is the same as leaving it out.
MOMENT_PARAMETER = {"type": "string", "pattern": rf"^$|^{DATE}(?:T{_TIME}{OFFSET})?$"}
ID_PARAMETER = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
# An id filter of a list or export, as ``events.filter_params.id_param`` reads it: empty is the same as leaving it out.
ID_FILTER_PARAMETER = {"anyOf": [ID_PARAMETER, {"type": "string", "enum": [""]}]}
SLUG_PARAMETER = {"type": "string", "pattern": r"^[-a-zA-Z0-9_]{0,64}$"}


def time_range_parameters(field: str) -> list[OpenApiParameter]:
    """``from`` / ``to`` on ``field`` and ``page_size``, as ``events.filter_params`` reads them.

    ``to`` must be later than ``from``: a rule between two parameters, which the schema cannot state.
    """
    return [
        OpenApiParameter("from", MOMENT_PARAMETER,
                         description=f"{field} at or after: 2026-11-23 or 2026-11-23T10:00:00Z."),
        OpenApiParameter("to", MOMENT_PARAMETER,
                         description=f"{field} before; a plain date includes that whole day. Later than from."),
        OpenApiParameter("page_size", PAGE_SIZE_SCHEMA, description=PAGE_SIZE_DESCRIPTION),
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


def properties_constrain(schema: dict, components: tuple[str, ...], constraints: dict[str, dict]) -> None:
    """Lay ``constraints`` (property → JSON Schema keywords) over those properties of each named component.

    For what validation enforces but a serializer field cannot say: JSON fields' shapes, patterns,
    choices read from the database.
    """
    for name in components:
        properties = schema["components"]["schemas"].get(name, {}).get("properties", {})
        for field, keywords in constraints.items():
            if field in properties:
                properties[field].update(keywords)


# Which answer feeds which operation: OpenAPI links, so a client (or a fuzzer) can follow
# a created partner to its endpoints, an endpoint to its preview and to an event it receives,
# and that event to its delivery. Keyed by the operation and status that answers; each link
# names the operation it feeds, the parameters it fills and, for some, the body it sends.
_PARTNER_CHILD = {"partner_slug": "$request.path.partner_slug", "id": "$response.body#/id"}
_CHILD_ROUTES = ("retrieve", "partial_update")


def _child_links(collection: str, routes: tuple[str, ...]) -> dict:
    links = {f"{collection}_{route}": (f"v1_partners_{collection}_{route}", _PARTNER_CHILD) for route in routes}
    # Its update replaces it with its own answer, which the API takes back unchanged, where a generated
    # replacement mostly clashes with what is stored (another rule's event type, conditions, a template's fields).
    update = f"v1_partners_{collection}_update"
    return links | {f"{collection}_update": (update, _PARTNER_CHILD, "$response.body")}


def _partner_links() -> dict:
    slug = {"partner_slug": "$response.body#/slug"}
    # Not to its updates: a follower of a link sends a generated body now and then instead of the linked one, and
    # a new slug there would rename the partner under the links that follow, which name it by the old one.
    links = {"retrieve": ("v1_partners_retrieve", {"slug": "$response.body#/slug"})}
    links |= {
        f"{collection}_{route}": (f"v1_partners_{collection}_{route}", slug)
        for collection in ("endpoints", "payouts", "qualification_rules") for route in ("list", "create")
    }
    # Beside the generated endpoints, one that is valid as it is, so that a chain of links always gets from a new
    # partner to an endpoint, and from there to an event it receives and that event's delivery.
    return links | {"endpoint_create_valid": ("v1_partners_endpoints_create", slug, _PARTNER_ENDPOINT)}


_PARTNER_ENDPOINT = {
    "name": "Partner postbacks",
    # No macro: braces in a link's body hold runtime expressions.
    "url_template": "https://postbacks.partner.example/first-deposit",
    "event_types": ["first_deposit"],
}
# An event the endpoint just created receives: its partner's player (a new one per endpoint, so the player is
# attributed to that partner) doing the first of the endpoint's event types, with an amount for the types that
# need one. Its answer lists the delivery the next links follow. The whole body, not merged into a generated one:
# a generated player id may already belong to another partner, and then the event is not this endpoint's.
_ENDPOINT_EVENT = {
    "event_id": "endpoint-{$response.body#/id}-first-event",
    "type": "$response.body#/event_types/0",
    "player_id": "endpoint-{$response.body#/id}-player",
    "partner": "$request.path.partner_slug",
    "amount": "25.00",
    "currency": "EUR",
}


def _endpoint_links() -> dict:
    # Its own answer as its replacement keeps it too: masked header values keep the stored ones, and the
    # credentials and signing secret, never answered, stay.
    links = _child_links("endpoints", (*_CHILD_ROUTES, "test_create"))
    return links | {
        # A preview of a sample event: an empty body always is one, where generated template changes rarely are.
        "endpoints_preview_create": ("v1_partners_endpoints_preview_create", _PARTNER_CHILD, {}),
        "event_create": ("v1_events_create", {}, _ENDPOINT_EVENT),
    }


LINKS: dict[tuple[str, str], dict[str, tuple]] = {
    ("v1_partners_create", "201"): _partner_links(),
    ("v1_partners_update", "200"): _partner_links(),
    ("v1_partners_endpoints_create", "201"): _endpoint_links(),
    ("v1_partners_payouts_create", "201"): _child_links("payouts", (*_CHILD_ROUTES, "destroy")),
    ("v1_partners_qualification_rules_create", "201"): _child_links(
        "qualification_rules", (*_CHILD_ROUTES, "destroy")
    ),
    ("v1_events_create", "201"): {
        "retrieve": ("v1_events_retrieve", {"id": "$response.body#/id"}),
        "reverse": ("v1_events_reverse", {"id": "$response.body#/id"}),
        "delivery_retrieve": ("v1_deliveries_retrieve", {"id": "$response.body#/deliveries/0/id"}),
        "delivery_resend": ("v1_deliveries_resend_create", {"id": "$response.body#/deliveries/0/id"}),
        "player_erase": ("v1_players_erase_create", {"player_id": "$response.body#/player_id"}),
    },
    # The newest delivery, one step from a list that is always there to read, rather than at the end of a chain
    # from a new partner (an endpoint, then an event it receives).
    ("v1_deliveries_list", "200"): {
        "retrieve": ("v1_deliveries_retrieve", {"id": "$response.body#/results/0/id"}),
        "resend": ("v1_deliveries_resend_create", {"id": "$response.body#/results/0/id"}),
    },
}


def links_declare(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: adds ``LINKS`` to the answers they start from."""
    operations = {
        operation["operationId"]: operation
        for path in result["paths"].values() for operation in path.values() if isinstance(operation, dict)
    }
    for (source, status), links in LINKS.items():
        response = operations.get(source, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {
            name: _link(*link) for name, link in links.items() if link[0] in operations
        }
    return result


def _link(target: str, parameters: dict, body: dict | None = None) -> dict:
    if body is None:
        return {"operationId": target, "parameters": parameters}
    # x-schemathesis: send this body as it is, rather than some of its fields in a generated one.
    return {"operationId": target, "parameters": parameters, "requestBody": body,
            "x-schemathesis": {"merge_body": False}}
