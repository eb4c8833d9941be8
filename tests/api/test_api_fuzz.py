"""A bounded schemathesis run against the event and delivery routes, in-process through the WSGI app.

Requests are generated from the OpenAPI schema, valid and invalid alike;
none may get a 5xx, and every answer must match what the schema promises.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from postback_platform.wsgi import application
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.fuzz


# Served by the app itself, in-process: no server, no network.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(
    path_regex=r"^/api/v1/(events|deliveries)/"
)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction_open():
    """Calls go straight to the WSGI app, past the test client, so keep Django from closing
    the connection that holds the test's transaction at the end of each request (as the test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def a_delivery():
    """Something for the lists and details to show; its player id is one the examples never use."""
    return DeliveryFactory(event__player__player_id="fuzz-fixture-player")


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_no_server_error_and_documented_answers(case, platform_client, a_delivery):
    # Set on the case itself: headers passed to call_and_validate do not reach the WSGI call.
    case.headers = {**(case.headers or {}), "Authorization": platform_client._credentials["HTTP_AUTHORIZATION"]}
    response = case.call_and_validate(
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
    assert response.status_code != 401, "the generated requests must be authenticated to reach the views"
