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
