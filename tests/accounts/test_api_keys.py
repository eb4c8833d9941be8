import pytest
from django.core.management import call_command
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts import authentication
from accounts.models import ApiKey
from accounts.permissions import IsAdminKey, IsPlatformOrAdminKey
from accounts.services import api_key_create, api_key_digest, api_key_revoke

pytestmark = pytest.mark.django_db


class PlatformView(APIView):
    permission_classes = [IsPlatformOrAdminKey]

    def get(self, request):
        return Response({"role": request.auth.role})


class AdminView(APIView):
    permission_classes = [IsAdminKey]

    def get(self, request):
        return Response({"role": request.auth.role})


urlpatterns = [path("platform/", PlatformView.as_view()), path("admin-only/", AdminView.as_view())]


@pytest.fixture(autouse=True)
def _routes(settings):
    settings.ROOT_URLCONF = __name__


def _client(key: str | None = None, header: str | None = None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    elif key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_command_prints_the_key_on_its_last_line_and_stores_only_a_digest(capsys):
    call_command("create_api_key", "casino-prod", "--role", "admin")

    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    stored = ApiKey.objects.get(name="casino-prod")
    assert stored.role == "admin"
    assert last_line.startswith(f"pbk_{stored.prefix}_")
    assert stored.digest == api_key_digest(last_line)
    assert last_line not in {stored.digest, stored.prefix, stored.name}


def test_command_refuses_an_unknown_role():
    with pytest.raises(Exception, match="invalid choice"):
        call_command("create_api_key", "x", "--role", "root")


def test_valid_key_is_accepted_and_last_use_recorded():
    issued = api_key_create(name="p", role="platform")

    response = _client(issued.plaintext).get("/platform/")

    assert response.status_code == 200
    assert response.json() == {"role": "platform"}
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer pbk_nope_nope", "Basic dXNlcjpwYXNz", "Bearer "],
    ids=["no-header", "wrong-key", "wrong-scheme", "empty-key"],
)
def test_missing_or_bad_key_is_401_with_a_challenge(header):
    response = _client(header=header).get("/platform/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_401():
    issued = api_key_create(name="p", role="platform")
    api_key_revoke(api_key=issued.api_key)

    assert _client(issued.plaintext).get("/platform/").status_code == 401


def test_platform_key_on_an_admin_route_is_403():
    issued = api_key_create(name="p", role="platform")

    response = _client(issued.plaintext).get("/admin-only/")

    assert response.status_code == 403
    assert "admin role" in response.json()["detail"]


def test_admin_key_passes_both_gates():
    issued = api_key_create(name="a", role="admin")
    client = _client(issued.plaintext)

    assert client.get("/platform/").status_code == 200
    assert client.get("/admin-only/").status_code == 200


def test_an_accepted_key_is_not_read_again_for_a_few_seconds(django_assert_num_queries):
    issued = api_key_create(name="p", role="platform")
    assert _client(issued.plaintext).get("/platform/").status_code == 200

    with django_assert_num_queries(0):
        assert _client(issued.plaintext).get("/platform/").status_code == 200


def test_a_key_revoked_elsewhere_is_refused_once_its_few_seconds_are_over(monkeypatch):
    issued = api_key_create(name="p", role="platform")
    clock = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: clock[0])
    assert _client(issued.plaintext).get("/platform/").status_code == 200
    ApiKey.objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now())  # as another process would

    clock[0] += authentication.KEY_CACHE_SECONDS - 0.5
    still = _client(issued.plaintext).get("/platform/").status_code
    clock[0] += 1
    later = _client(issued.plaintext).get("/platform/").status_code

    assert (still, later) == (200, 401)
