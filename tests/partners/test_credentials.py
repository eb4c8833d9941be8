"""Endpoint credentials through the API, the admin and the migration command: write-only, checked, cleared on a move."""

import html
import io
import ipaddress

import pytest
from django.core.management import call_command

from partners.credentials import CLEARED_NOTICE
from partners.models import PostbackEndpoint
from tests.admin.test_endpoint_admin import _form
from tests.factories import PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/acme/endpoints/"


@pytest.fixture
def partner(db):
    return PartnerFactory(slug="acme")


def _create(client, **fields):
    body = {"name": "main", "url_template": "https://partner.example/pb?c={click_id}&t={secret.token}",
            "event_types": ["registration"], "credentials": {"token": "tok-SECRET"}} | fields
    return client.post(URL, body, format="json")


def test_credentials_are_accepted_on_write_and_never_returned(admin_client_api, partner):
    response = _create(admin_client_api)

    assert response.status_code == 201, response.json()
    assert response.json()["credential_names"] == ["token"]
    assert "SECRET" not in response.content.decode()
    assert PostbackEndpoint.objects.get().credentials == {"token": "tok-SECRET"}


def test_an_unknown_secret_is_a_400_naming_it(admin_client_api, partner):
    response = _create(admin_client_api, headers={"X-Key": "{secret.api_key}"})

    assert response.status_code == 400
    assert "{secret.api_key}" in response.json()["errors"]["headers"][0]


def test_credentials_are_merged_and_null_removes_one(admin_client_api, partner):
    endpoint_id = _create(admin_client_api, credentials={"token": "t-1", "extra": "x-1"}).json()["id"]

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {"credentials": {"extra": None}}, format="json")

    assert response.json()["credential_names"] == ["token"]


@pytest.mark.parametrize("new_url", [
    "https://attacker.example/pb?t={secret.token}",
    "http://partner.example/pb?t={secret.token}",
    "https://partner.example:8443/pb?t={secret.token}",
])
def test_changing_scheme_host_or_port_clears_credentials(admin_client_api, partner, new_url):
    endpoint_id = _create(admin_client_api).json()["id"]

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {"url_template": new_url}, format="json")

    assert response.status_code == 400
    assert CLEARED_NOTICE in response.json()["errors"]["credentials"][0]
    assert PostbackEndpoint.objects.get().credentials == {"token": "tok-SECRET"}


def test_a_move_without_secret_macros_clears_them_with_a_notice(admin_client_api, partner):
    endpoint_id = _create(admin_client_api, url_template="https://partner.example/pb", credentials={"unused": "u-1"}
                          ).json()["id"]

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {"url_template": "https://other.example/pb"},
                                      format="json")

    assert response.status_code == 200
    assert response.json()["notices"] == [CLEARED_NOTICE]
    assert PostbackEndpoint.objects.get().credentials == {}


def test_credentials_entered_again_in_the_same_change_are_kept(admin_client_api, partner):
    endpoint_id = _create(admin_client_api).json()["id"]

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {
        "url_template": "https://new.example/pb?t={secret.token}", "credentials": {"token": "tok-2"},
    }, format="json")

    assert response.status_code == 200
    assert PostbackEndpoint.objects.get().credentials == {"token": "tok-2"}


def test_a_path_change_keeps_credentials(admin_client_api, partner):
    endpoint_id = _create(admin_client_api).json()["id"]

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {
        "url_template": "https://PARTNER.example:443/v2?t={secret.token}"}, format="json")

    assert response.status_code == 200
    assert PostbackEndpoint.objects.get().credentials == {"token": "tok-SECRET"}


def test_authentication_needs_its_credentials_and_a_token_url(admin_client_api, partner):
    response = _create(admin_client_api, url_template="https://partner.example/pb", credentials={},
                       auth_type="oauth2_client_credentials")

    assert response.status_code == 400
    assert "client_id, client_secret" in response.json()["errors"]["credentials"][0]
    assert "token URL" in response.json()["errors"]["oauth_token_url"][0]


def test_changing_the_token_urls_host_clears_credentials(admin_client_api, partner):
    endpoint_id = _create(admin_client_api, url_template="https://partner.example/pb", auth_type="bearer",
                          credentials={"token": "t"}).json()["id"]
    PostbackEndpoint.objects.filter(pk=endpoint_id).update(
        auth_type="oauth2_client_credentials", oauth_token_url="https://partner.example/token",
        credentials={"client_id": "c", "client_secret": "s"})

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {"oauth_token_url": "https://evil.example/token"},
                                      format="json")

    assert response.status_code == 400
    assert CLEARED_NOTICE in response.json()["errors"]["credentials"][0]


def _basic_endpoint_with_a_token_url_set_beforehand(admin_client_api, token_url="https://evil.example/token"):
    """An editor set the token URL while no credentials existed; Basic credentials were added later."""
    endpoint_id = _create(admin_client_api, url_template="https://partner.example/pb", credentials={},
                          oauth_token_url=token_url).json()["id"]
    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {
        "auth_type": "basic", "credentials": {"username": "u", "password": "pw-SECRET"},
    }, format="json")
    assert response.status_code == 200, response.json()
    return endpoint_id


def test_changing_the_authentication_type_clears_credentials(admin_client_api, partner):
    endpoint_id = _basic_endpoint_with_a_token_url_set_beforehand(admin_client_api)

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {
        "auth_type": "oauth2_password", "credentials": {"client_id": "c"},
    }, format="json")

    assert response.status_code == 400
    assert CLEARED_NOTICE in response.json()["errors"]["credentials"][0]
    assert "username, password" in response.json()["errors"]["credentials"][0]
    assert PostbackEndpoint.objects.get().credentials == {"username": "u", "password": "pw-SECRET"}


def test_an_authentication_change_keeps_credentials_entered_again(admin_client_api, partner):
    endpoint_id = _basic_endpoint_with_a_token_url_set_beforehand(admin_client_api, "https://partner.example/token")

    response = admin_client_api.patch(f"{URL}{endpoint_id}/", {
        "auth_type": "oauth2_password", "credentials": {"client_id": "c", "username": "u", "password": "pw-2"},
    }, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["notices"] == [CLEARED_NOTICE]
    assert PostbackEndpoint.objects.get().credentials == {"client_id": "c", "username": "u", "password": "pw-2"}


def test_admin_authentication_change_clears_credentials_with_a_message(admin_client, partner):
    endpoint = PostbackEndpointFactory(partner=partner, url_template="https://partner.example/pb", auth_type="bearer",
                                       credentials={"token": "t-SECRET"})

    response = admin_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/",
                                 _form(endpoint, auth_type="none"), follow=True)

    assert response.status_code == 200
    assert CLEARED_NOTICE in html.unescape(response.content.decode())
    endpoint.refresh_from_db()
    assert (endpoint.auth_type, endpoint.credentials) == ("none", {})


@pytest.mark.parametrize("token_url", ["http://partner.example/token", "http://93.184.216.34/token", "HTTP://partner.example/token"])
def test_a_token_url_must_use_https(admin_client_api, partner, token_url):
    response = _create(admin_client_api, url_template="https://partner.example/pb", oauth_token_url=token_url,
                       auth_type="oauth2_client_credentials", credentials={"client_id": "c", "client_secret": "s"})

    assert response.status_code == 400
    assert "must start with https://" in response.json()["errors"]["oauth_token_url"][0]


def test_a_plain_http_token_url_is_accepted_inside_the_allowed_networks(admin_client_api, partner, settings):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]

    response = _create(admin_client_api, url_template="https://partner.example/pb", oauth_token_url="http://127.0.0.1/t",
                       auth_type="oauth2_client_credentials", credentials={"client_id": "c", "client_secret": "s"})

    assert response.status_code == 201, response.json()


def test_admin_host_change_clears_credentials_with_a_message(admin_client, partner):
    endpoint = PostbackEndpointFactory(partner=partner, url_template="https://partner.example/pb",
                                       credentials={"unused": "u-1"})

    response = admin_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/",
                                 _form(endpoint, url_template="https://elsewhere.example/pb"), follow=True)

    assert response.status_code == 200
    assert CLEARED_NOTICE in html.unescape(response.content.decode())
    endpoint.refresh_from_db()
    assert endpoint.credentials == {}


def test_admin_credentials_are_entered_but_never_shown(admin_client, partner):
    endpoint = PostbackEndpointFactory(partner=partner, url_template="https://partner.example/pb")

    admin_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/",
                      _form(endpoint, url_template="https://partner.example/pb?t={secret.token}",
                            new_credentials='{"token": "tok-SECRET"}'))

    endpoint.refresh_from_db()
    assert endpoint.credentials == {"token": "tok-SECRET"}
    page = admin_client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/").content.decode()
    assert "token (values hidden)" in page
    assert "tok-SECRET" not in page


def test_the_command_reports_credential_looking_values_without_printing_them(partner):
    endpoint = PostbackEndpointFactory(
        partner=partner, url_template="https://partner.example/pb?click={click_id}&api_key=k%2F1-SECRET&sub=x",
        headers={"X-Pass": "p-SECRET", "X-Campaign": "summer"},
    )
    out = io.StringIO()

    call_command("endpoint_credentials", stdout=out)

    report = out.getvalue()
    assert f"endpoint {endpoint.pk}" in report
    assert "query 'api_key' -> {secret.api_key}" in report
    assert "header 'X-Pass' -> {secret.x-pass}" in report
    assert "X-Campaign" not in report and "SECRET" not in report
    endpoint.refresh_from_db()
    assert endpoint.credentials == {}


def test_the_command_moves_them_into_credentials(partner):
    endpoint = PostbackEndpointFactory(
        partner=partner, url_template="https://partner.example/pb?click={click_id}&api_key=k%2F1-SECRET&sub=x",
        headers={"X-Pass": "p-SECRET"},
    )

    call_command("endpoint_credentials", "--move", stdout=io.StringIO())

    endpoint.refresh_from_db()
    assert endpoint.url_template == "https://partner.example/pb?click={click_id}&api_key={secret.api_key}&sub=x"
    assert endpoint.headers == {"X-Pass": "{secret.x-pass}"}
    assert endpoint.credentials == {"api_key": "k/1-SECRET", "x-pass": "p-SECRET"}
    out = io.StringIO()
    call_command("endpoint_credentials", stdout=out)
    assert "0 credential-like" in out.getvalue()


@pytest.mark.parametrize(("fields", "field"), [
    ({"method": "POST", "body_template": '{"k": "{secret.nope}"}'}, "body_template"),
    ({"url_template": "https://partner.example/pb?k={secret.nope|trim}"}, "url_template"),
])
def test_an_unknown_secret_anywhere_is_refused_naming_the_field(admin_client_api, partner, fields, field):
    response = _create(admin_client_api, **fields)

    assert response.status_code == 400
    assert "{secret.nope}" in response.json()["errors"][field][0]


def test_an_own_authorization_header_clashes_with_the_authentication(admin_client_api, partner):
    response = _create(admin_client_api, auth_type="bearer", credentials={"token": "t"},
                       headers={"Authorization": "Bearer x"})

    assert response.status_code == 400
    assert "set by the endpoint's authentication" in response.json()["errors"]["headers"][0]
