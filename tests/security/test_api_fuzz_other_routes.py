"""A bounded schemathesis run against every API route outside events and deliveries, with an admin key.

Configuration (partners, endpoints, payout rules, preview, test postback),
statistics and exports get generated requests, valid and invalid alike:
no 5xx, and answers that match the schema. tests/api/test_api_fuzz.py
covers the event and delivery routes. Host names are never resolved: a
generated endpoint that is sent a test postback finds no DNS, which the
sender records as a connection failure.
"""

import socket
from unittest import mock

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from postback_platform.wsgi import application
from tests.factories import DeliveryFactory, PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory
from tests.support.wsgi import transaction_kept_across_requests

pytestmark = pytest.mark.fuzz

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
documented = schema.include(path_regex=r"^/api/v1/(stats|export)")
configuration = schema.include(path_regex=r"^/api/v1/partners")


def _no_dns(host, *args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, f"{host}: no DNS in tests")


@pytest.fixture
def configured(db):
    """A partner with an endpoint (its URL refused without a connection) and a payout rule, and a delivery."""
    partner = PartnerFactory(slug="acme")
    endpoint = PostbackEndpointFactory(partner=partner, url_template="http://127.0.0.1:9/pb?c={click_id}")
    PayoutRuleFactory(partner=partner)
    DeliveryFactory(endpoint=endpoint)
    with transaction_kept_across_requests(), mock.patch.object(socket, "getaddrinfo", _no_dns):
        yield


def _call(case, client, checks) -> None:
    # Replaces whatever Authorization the generator made up for the declared bearer scheme.
    case.headers = {**(case.headers or {}), "Authorization": client._credentials["HTTP_AUTHORIZATION"]}
    case.call_and_validate(checks=checks)


@documented.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_reporting_routes_get_no_server_error_and_documented_answers(case, admin_client_api, configured):
    _call(case, admin_client_api, [not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


@configuration.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_configuration_routes_get_no_server_error_and_answers_that_match_the_schema(
    case, admin_client_api, configured
):
    _call(case, admin_client_api, [not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


def test_configuration_routes_document_their_error_answers(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    undocumented = {
        f"{method.upper()} {path}": sorted({"401", "403"} - set(operation["responses"]))
        for path, operations in paths.items() if path.startswith("/api/v1/partners")
        for method, operation in operations.items()
    }

    assert {route: codes for route, codes in undocumented.items() if codes} == {}
