import pytest
from django.core.management import call_command
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts import accepted_keys
from accounts.models import ApiKey
from accounts.permissions import IsAdminKey, IsPlatformOrAdminKey
from accounts.services import api_key_create, api_key_digest, api_key_revoke
from tests.support.fresh_process import DJANGO_SETUP, run_python
from tests.support.services import child_database_url, require_shared_cache

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


def test_an_accepted_key_is_not_read_again_while_the_keys_version_stands(settings, django_assert_num_queries):
    settings.API_KEY_CACHE = True
    issued = api_key_create(name="p", role="platform")
    assert _client(issued.plaintext).get("/platform/").status_code == 200

    with django_assert_num_queries(0):
        assert _client(issued.plaintext).get("/platform/").status_code == 200


def test_without_a_shared_cache_every_request_reads_its_key(settings, django_assert_num_queries):
    settings.API_KEY_CACHE = False
    issued = api_key_create(name="p", role="platform")
    assert _client(issued.plaintext).get("/platform/").status_code == 200

    with django_assert_num_queries(1):
        assert _client(issued.plaintext).get("/platform/").status_code == 200


def test_a_kept_key_is_refused_at_the_next_request_once_it_is_revoked(settings, django_capture_on_commit_callbacks):
    settings.API_KEY_CACHE = True
    issued = api_key_create(name="p", role="platform")
    assert _client(issued.plaintext).get("/platform/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=ApiKey.objects.get(pk=issued.api_key.pk))

    assert _client(issued.plaintext).get("/platform/").status_code == 401


def test_a_role_changed_in_the_admin_applies_at_the_next_request(settings, django_capture_on_commit_callbacks):
    settings.API_KEY_CACHE = True
    issued = api_key_create(name="a", role="admin")
    assert _client(issued.plaintext).get("/admin-only/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        key = ApiKey.objects.get(pk=issued.api_key.pk)
        key.role = ApiKey.Role.PLATFORM
        key.save()

    assert _client(issued.plaintext).get("/admin-only/").status_code == 403


def test_a_kept_key_is_read_again_once_its_copy_is_a_minute_old(settings, monkeypatch, django_assert_num_queries):
    # A revocation whose new version could not be written to the cache still applies within MAX_AGE_SECONDS.
    settings.API_KEY_CACHE = True
    clock = [1000.0]
    monkeypatch.setattr(accepted_keys.time, "monotonic", lambda: clock[0])
    issued = api_key_create(name="p", role="platform")
    assert _client(issued.plaintext).get("/platform/").status_code == 200

    clock[0] += accepted_keys.MAX_AGE_SECONDS + 1

    with django_assert_num_queries(1):
        assert _client(issued.plaintext).get("/platform/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_key_revoked_by_another_process_is_refused_by_this_one_at_once(settings, tmp_path):
    # given: this process has accepted the key and keeps it
    shared_cache = require_shared_cache()
    settings.API_KEY_CACHE = True
    issued = api_key_create(name="p", role="platform")
    assert _client(issued.plaintext).get("/platform/").status_code == 200

    # when: another process revokes it
    code = (f"{DJANGO_SETUP}; from accounts.models import ApiKey; from accounts.services import api_key_revoke; "
            f"api_key_revoke(api_key=ApiKey.objects.get(prefix={issued.api_key.prefix!r}))")
    child = run_python(tmp_path, "-c", code, DATABASE_URL=child_database_url(), REDIS_URL=shared_cache,
                       SECRET_KEY="x" * 40, API_KEY_CACHE="true")
    assert child.returncode == 0, child.stderr

    # then: the very next request here is refused
    assert _client(issued.plaintext).get("/platform/").status_code == 401
