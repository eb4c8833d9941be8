"""A bounded schemathesis run against the statistics and export routes, with an admin key.

They get generated requests, valid and invalid alike: no 5xx, and answers
that match the schema. tests/api/test_api_fuzz.py covers the event,
delivery and configuration routes (with the links between them).
"""

import socket
from unittest import mock

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from postback_platform.wsgi import application
from tests.factories import DeliveryFactory, PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory
from tests.support.wsgi import transaction_kept_across_requests

pytestmark = pytest.mark.fuzz

REPORTING_ROUTES = r"^/api/v1/(stats|export)"
# Constraints included: what the schema allows is not refused (but where schemathesis.toml says), what it forbids not accepted.
CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
    positive_data_acceptance, negative_data_rejection,
]


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


def test_reporting_routes_get_no_server_error_and_documented_answers(admin_client_api, configured):
    # Loaded inside the test: the schema offers the event types of the test database.
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    for result in schema.include(path_regex=REPORTING_ROUTES).get_all_operations():
        operation = result.ok()

        @given(case=st.one_of(operation.as_strategy(mode) for mode in GenerationMode))
        @settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                  database=None)
        def fuzz(case):
            # Replaces whatever Authorization the generator made up for the declared bearer scheme.
            case.headers = {**(case.headers or {}), "Authorization": admin_client_api._credentials["HTTP_AUTHORIZATION"]}
            case.call_and_validate(checks=CHECKS)

        fuzz()


def test_configuration_routes_document_their_error_answers(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    undocumented = {
        f"{method.upper()} {path}": sorted({"401", "403"} - set(operation["responses"]))
        for path, operations in paths.items() if path.startswith("/api/v1/partners")
        for method, operation in operations.items()
    }

    assert {route: codes for route, codes in undocumented.items() if codes} == {}
