"""OpenAPI documentation of the configuration routes: every answer they give, errors included."""

from drf_spectacular.utils import extend_schema, extend_schema_view

from postback_platform.api_docs import NOT_FOUND, common_errors, error_response, invalid

from .serializers import EndpointSerializer, PartnerSerializer, PayoutRuleSerializer, QualificationRuleSerializer

NO_PARTNER = error_response("No such partner or object", "No partner with slug 'acme'; list them at /api/v1/partners/.")
BAD_CURSOR = error_response("A cursor that was not given by this list", "Invalid cursor")
INVALID_ENDPOINT = invalid({"url_template": ["Unknown macro {clickid}; use one of {click_id}, …"]})


def _crud(serializer, noun: str, *, invalid_answer, nested: bool = True, deletable: bool = False) -> dict:
    """extend_schema_view arguments for list / create / retrieve / update (and delete) of ``noun``.

    Under ``/partners/{slug}/`` an unknown partner is a 404 on every route, lists included.
    """
    missing = {404: NO_PARTNER} if nested else {}
    views = {
        "list": extend_schema(
            summary=f"List {noun}s",
            responses={200: serializer(many=True), 400: BAD_CURSOR, **missing, **common_errors()},
        ),
        "create": extend_schema(
            summary=f"Create a {noun}", responses={201: serializer, 400: invalid_answer, **missing, **common_errors()}
        ),
        "retrieve": extend_schema(
            summary=f"One {noun}", responses={200: serializer, 404: NOT_FOUND, **common_errors()}
        ),
        "update": extend_schema(
            summary=f"Replace a {noun}",
            responses={200: serializer, 400: invalid_answer, 404: NOT_FOUND, **common_errors()},
        ),
        "partial_update": extend_schema(
            summary=f"Change some fields of a {noun}",
            responses={200: serializer, 400: invalid_answer, 404: NOT_FOUND, **common_errors()},
        ),
    }
    if deletable:
        views["destroy"] = extend_schema(
            summary=f"Delete a {noun}", responses={204: None, 404: NOT_FOUND, **common_errors()}
        )
    return views


PARTNER_VIEWS = _crud(
    PartnerSerializer, "partner", nested=False, invalid_answer=invalid({"slug": ["Enter a valid slug …"]})
)
ENDPOINT_VIEWS = _crud(EndpointSerializer, "postback endpoint", invalid_answer=INVALID_ENDPOINT)
PAYOUT_VIEWS = _crud(
    PayoutRuleSerializer, "payout rule", deletable=True,
    invalid_answer=invalid({"event_type": ["acme already has a payout rule for deposit; change that one instead."]}),
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
