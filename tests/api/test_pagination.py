"""Page size and cursor of every API list: a bad one is a 400 naming it, never a silent default or a 500."""

import base64

import pytest

from tests.factories import EventFactory, PartnerFactory

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/events/", "/api/v1/deliveries/", "/api/v1/partners/"]


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page_size", ["0", "-1", "1001", "null", "", "1.5", "٣", "9" * 5000])
def test_a_page_size_outside_1_to_1000_is_a_400_naming_it(admin_client_api, path, page_size):
    response = admin_client_api.get(path, {"page_size": page_size})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page_size"]


def test_a_page_size_in_range_sizes_the_page(admin_client_api):
    PartnerFactory.create_batch(3)

    page = admin_client_api.get("/api/v1/partners/", {"page_size": "2"}).json()

    assert len(page["results"]) == 2
    assert admin_client_api.get(page["next"]).json()["results"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("query", ["p=abc", "p=1%00", "p=99999999999999999999999", "p=-1", "o=1&p=1e3"])
def test_a_cursor_whose_position_is_not_an_id_is_a_400_not_a_server_error(admin_client_api, path, query):
    EventFactory()

    response = admin_client_api.get(path, {"cursor": _cursor(query)})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


def test_a_cursor_as_given_still_pages(admin_client_api):
    PartnerFactory.create_batch(3)

    first = admin_client_api.get("/api/v1/partners/", {"page_size": "1"}).json()
    second = admin_client_api.get(first["next"]).json()

    assert second["results"] and second["results"] != first["results"]
