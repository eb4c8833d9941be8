import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache

from accounts.roles import AFFILIATE_MANAGERS, MARKETING


def member_of(group_name: str, username: str | None = None) -> User:
    username = username or group_name.lower().replace(" ", "-")
    user = User.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def manager_client(client, db):
    client.force_login(member_of(AFFILIATE_MANAGERS))
    return client


@pytest.fixture
def marketing_client(client, db):
    client.force_login(member_of(MARKETING))
    return client


@pytest.fixture(autouse=True)
def _fresh_dashboard_series():
    """The dashboard keeps its daily series in the cache; each test starts from its own data."""
    cache.clear()
    yield
    cache.clear()
