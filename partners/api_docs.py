"""OpenAPI documentation of the configuration routes: every answer they give, errors included."""

import re

from drf_spectacular.utils import extend_schema

from events.api_docs import CURRENCY_CODES
from events.selectors import event_types_requiring_amount
from lib.api_docs import NOT_FOUND, common_errors, error_response, invalid, properties_constrain

from .filters import FIELDS as FILTER_FIELDS
from .filters import MAX_FILTERS, OPERATORS
from .macro_filters import FILTERS, MAX_ARGUMENT
from .models import QualificationRule
from .serializers import EndpointSerializer, PartnerSerializer, PayoutRuleSerializer, QualificationRuleSerializer
from .templating import MACROS
from .validation import MAX_EVENT_NAMES, MAX_HEADERS

NO_PARTNER = error_response("No such partner or object", "No partner with slug 'acme'; list them at /api/v1/partners/.")
BAD_CURSOR = error_response("A cursor that was not given by this list", "Invalid cursor")
INVALID_ENDPOINT = invalid({"url_template": ["Unknown macro {clickid}; use one of {click_id}, …"]})


def _crud(
    serializer, noun: str, *, invalid_answer, nested: bool = True, deletable: bool = False, conflict=None
) -> dict:
    """extend_schema_view arguments for list / create / retrieve / update (and delete) of ``noun``.

    Under ``/partners/{slug}/`` an unknown partner is a 404 on every route, lists included. ``conflict``
    is the 409 of the writes whose body clashes with another stored object.
    """
    missing = {404: NO_PARTNER} if nested else {}
    clash = {409: conflict} if conflict else {}
    views = {
        "list": extend_schema(
            summary=f"List {noun}s",
            responses={200: serializer(many=True), 400: BAD_CURSOR, **missing, **common_errors()},
        ),
        "create": extend_schema(
            summary=f"Create a {noun}",
            responses={201: serializer, 400: invalid_answer, **clash, **missing, **common_errors()},
        ),
        "retrieve": extend_schema(
            summary=f"One {noun}", responses={200: serializer, 404: NOT_FOUND, **common_errors()}
        ),
        "update": extend_schema(
            summary=f"Replace a {noun}",
            responses={200: serializer, 400: invalid_answer, **clash, 404: NOT_FOUND, **common_errors()},
        ),
        "partial_update": extend_schema(
            summary=f"Change some fields of a {noun}",
            responses={200: serializer, 400: invalid_answer, **clash, 404: NOT_FOUND, **common_errors()},
        ),
    }
    if deletable:
        views["destroy"] = extend_schema(
            summary=f"Delete a {noun}", responses={204: None, 404: NOT_FOUND, **common_errors()}
        )
    return views


PARTNER_VIEWS = _crud(
    PartnerSerializer, "partner", nested=False, invalid_answer=invalid({"slug": ["Enter a valid slug …"]}),
    conflict=error_response(
        "Another partner has this slug", "Partner 'acme' exists already; choose another slug, or change that "
        "partner at its own URL.", {"slug": ["Partner 'acme' exists already; …"]},
    ),
)
ENDPOINT_VIEWS = _crud(EndpointSerializer, "postback endpoint", invalid_answer=INVALID_ENDPOINT)
PAYOUT_VIEWS = _crud(
    PayoutRuleSerializer, "payout rule", deletable=True,
    invalid_answer=invalid({"currency": ["'EURO' is not an ISO 4217 currency code; use one such as EUR."]}),
    conflict=error_response(
        "The partner has a payout rule for this event type already",
        "acme already has a payout rule for deposit; change that one instead.",
        {"event_type": ["acme already has a payout rule for deposit; change that one instead."]},
    ),
)
QUALIFICATION_VIEWS = _crud(
    QualificationRuleSerializer, "qualification rule", deletable=True,
    invalid_answer=invalid({"currency": ["Required with a money condition: an ISO 4217 code such as EUR."]}),
)
QUALIFICATION_VIEWS["destroy"] = extend_schema(
    summary="Delete a qualification rule that has qualified nobody",
    description="A rule that qualified players cannot be deleted (their record names it): deactivate it instead.",
    responses={204: None, 400: invalid({"non_field_errors": ["3 players qualified by this rule; set is_active to "
                                                             "false instead."]}),
               404: NOT_FOUND, **common_errors()},
)


def _one_of(names) -> str:
    return "|".join(re.escape(name) for name in names)


# The URL template as JSON Schema can say it: http(s), a host name (no macro, no credentials),
# a port a TCP port can be, and a path and query without white space whose braces hold macros
# (a known name, a {params.NAME} or a {secret.NAME}, then known filters). The host is written
# as an ASCII name (xn-- for an international one; an underscore is accepted below the top
# label, as validation accepts it); addresses written as IP literals are accepted too but left
# out here, as a name is what a partner gives. What it cannot say (an address the guard
# refuses, a filter's argument, a secret the endpoint has no credential for) is still refused
# with the reason.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_TOP_LABEL = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_MACRO = (
    rf"\{{(?:{_one_of(MACROS)}|params\.[A-Za-z0-9_-]+|secret\.[A-Za-z0-9_-]+)"
    rf"(?:\|(?:{_one_of(FILTERS)})(?::[^|{{}}\s]{{1,{MAX_ARGUMENT}}})?)*\}}"
)
URL_TEMPLATE_PATTERN = (
    rf"^https?://(?:{_LABEL}\.)*{_TOP_LABEL}\.?(?::{_PORT})?(?:[/?#](?:[^{{}}\s]|{_MACRO})*)?$"
)
# Standard Webhooks: whsec_ and the base64 of 24 to 64 bytes; empty for none.
SIGNING_SECRET_PATTERN = r"^(?:whsec_(?:[A-Za-z0-9+/]{4}){8,21}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)?$"
# 0.5 to 60 seconds, in hundredths.
TIMEOUT_PATTERN = r"^(?:0\.[5-9][0-9]?|(?:[1-9]|[1-5][0-9])(?:\.[0-9]{1,2})?|60(?:\.0{1,2})?)$"
_MONEY = r"^[0-9]{1,14}(?:\.[0-9]{1,4})?$"
# Text as DRF takes it: no NUL character, and something left once white space around it is trimmed.
_TEXT = r"^[^\x00]*[^\x00\s][^\x00]*$"
FILTER = {
    "type": "object",
    "required": ["field", "op"],
    "additionalProperties": False,
    "properties": {
        "field": {"type": "string", "pattern": rf"^(?:{_one_of(FILTER_FIELDS)}|params\.[A-Za-z0-9_-]+)$"},
        "op": {"type": "string", "enum": list(OPERATORS)},
        "value": {},
    },
}
_TEMPLATE_CHANGES = {
    "url_template": {"pattern": URL_TEMPLATE_PATTERN},
    "headers": {"type": "object", "maxProperties": MAX_HEADERS, "additionalProperties": {"type": "string"}},
    "event_names": {
        "type": "object", "maxProperties": MAX_EVENT_NAMES,
        "additionalProperties": {"type": "string", "maxLength": 200},
    },
}


# What ``QualificationRule.clean`` asks of a new rule across its fields: at least one condition set (a
# value, not null; countries, not an empty list), and a currency with any money condition. Only the
# create body states them: an update's body may leave conditions out, and the stored rule's then apply.
_SET = {"min_deposit_count": {"type": "integer"}, "allowed_countries": {"type": "array", "minItems": 1},
        **{name: {"type": "string"} for name in QualificationRule.MONEY_CONDITIONS}}
QUALIFICATION_RULE_CREATE = [
    {"anyOf": [{"required": [name], "properties": {name: kind}} for name, kind in _SET.items()]},
    {"anyOf": [
        {"required": ["currency"], "properties": {"currency": {"type": "string", "minLength": 1}}},
        {"properties": {name: {"enum": [None]} for name in QualificationRule.MONEY_CONDITIONS}},
    ]},
]


def configuration_constraints(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: what ``partners.validation`` and the serializers enforce, as JSON Schema."""
    event_type = {"type": "string", "enum": list(event_types_requiring_amount())}
    properties_constrain(result, ("EndpointRequest", "PatchedEndpointRequest"), {
        **_TEMPLATE_CHANGES,
        "event_types": {"minItems": 1, "items": event_type},
        "hold_event_types": {"type": "array", "items": event_type},
        "filters": {"type": "array", "maxItems": MAX_FILTERS, "items": FILTER},
        "signing_secret": {"pattern": SIGNING_SECRET_PATTERN},
        "timeout_seconds": {"pattern": TIMEOUT_PATTERN},
    })
    properties_constrain(result, ("PreviewRequest",), {**_TEMPLATE_CHANGES, "event": {"minimum": 1}})
    properties_constrain(result, ("TestPostbackRequest",), {"event_type": event_type})
    properties_constrain(result, ("PayoutRuleRequest", "PatchedPayoutRuleRequest"), {
        "event_type": event_type, "value": {"pattern": _MONEY}, "currency": {"enum": CURRENCY_CODES},
    })
    properties_constrain(result, ("QualificationRuleRequest", "PatchedQualificationRuleRequest"), {
        "name": {"pattern": _TEXT}, "wager_param": {"pattern": _TEXT},
        **{name: {"pattern": _MONEY} for name in QualificationRule.MONEY_CONDITIONS},
        "currency": {"enum": ["", *CURRENCY_CODES]},
        "allowed_countries": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}$"}},
    })
    _request_bodies_constrain(result, "v1_partners_qualification_rules_create", QUALIFICATION_RULE_CREATE)
    return result


def _request_bodies_constrain(result: dict, operation_id: str, constraints: list[dict]) -> None:
    """Add ``constraints`` (JSON Schemas the body must also match) to one operation's request body, leaving
    the component other operations share as it is."""
    for operations in result["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                for content in operation.get("requestBody", {}).get("content", {}).values():
                    content["schema"] = {"allOf": [content["schema"], *constraints]}
