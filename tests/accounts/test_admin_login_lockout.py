import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def _login(client, password):
    return client.post("/admin/login/?next=/admin/", {"username": "manager", "password": password})


def test_repeated_failed_admin_logins_lock_the_account_out_even_with_the_right_password(client, settings):
    User.objects.create_user(username="manager", password="correct horse battery", is_staff=True)

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    assert _login(client, "wrong").status_code == 429  # the limit-th failure locks

    locked = _login(client, "correct horse battery")

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()


def test_a_successful_login_before_the_limit_resets_the_count(client, settings):
    User.objects.create_user(username="manager", password="correct horse battery", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "wrong")

    assert _login(client, "correct horse battery").status_code == 302


PROXY = "10.0.0.2"  # written into REMOTE_ADDR only: nothing connects to it


def _login_via_proxy(client, password, forwarded):
    return client.post("/admin/login/?next=/admin/", {"username": "manager", "password": password},
                       REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)


def test_behind_the_proxy_one_clients_failures_do_not_lock_out_another(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    User.objects.create_user(username="manager", password="correct horse battery", is_staff=True)

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login_via_proxy(client, "wrong", "198.51.100.66")

    assert _login_via_proxy(client, "correct horse battery", "198.51.100.66").status_code == 429
    assert _login_via_proxy(client, "correct horse battery", "198.51.100.7").status_code == 302


def test_a_forged_x_forwarded_for_does_not_escape_the_lock_out(client, settings):
    # given: the client makes up a new address each time; the proxy appends the real one
    settings.TRUSTED_PROXY_COUNT = 1
    User.objects.create_user(username="manager", password="correct horse battery", is_staff=True)

    statuses = [_login_via_proxy(client, "wrong", f"203.0.113.{n}, 198.51.100.66").status_code
                for n in range(settings.AXES_FAILURE_LIMIT)]

    assert statuses[-1] == 429
    assert _login_via_proxy(client, "correct horse battery", "203.0.113.200, 198.51.100.66").status_code == 429


def test_without_a_proxy_x_forwarded_for_from_the_peer_is_ignored(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    User.objects.create_user(username="manager", password="correct horse battery", is_staff=True)

    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/?next=/admin/", {"username": "manager", "password": "wrong"},
                    REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    locked = client.post("/admin/login/?next=/admin/", {"username": "manager", "password": "correct horse battery"},
                         REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR="203.0.113.250")
    assert locked.status_code == 429
