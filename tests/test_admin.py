import pytest

pytestmark = pytest.mark.django_db


def test_superuser_sees_every_model_on_the_admin_index(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    for name in ["Partners", "Postback endpoints", "Events", "Players", "Deliveries", "API keys", "Event types"]:
        assert name in response.content.decode()


def test_creating_an_api_key_in_the_admin_shows_it_once(admin_client):
    from accounts.models import ApiKey
    from accounts.services import api_key_digest

    response = admin_client.post("/admin/accounts/apikey/add/", {"name": "ops", "role": "admin"}, follow=True)

    shown = [str(m) for m in response.context["messages"]]
    key = shown[0].rsplit(" ", 1)[-1]
    assert ApiKey.objects.get(name="ops").digest == api_key_digest(key)
    page = admin_client.get(f"/admin/accounts/apikey/{ApiKey.objects.get(name='ops').pk}/change/").content.decode()
    assert key not in page
