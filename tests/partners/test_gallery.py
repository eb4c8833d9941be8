"""The partner gallery (docs/partners/) renders exactly as documented.

Each page's configuration is created through the API (so it passes the same
validation as a manager's), the sample events are ingested, and each event is
rendered through the preview, the sender's own rendering, then compared with
the request the page shows.
"""

import json
import re
from pathlib import Path

import pytest

from deliveries.services import template_preview
from events.models import Event
from partners.models import PostbackEndpoint
from partners.signing import headers_for_record

pytestmark = pytest.mark.django_db

GALLERY = Path(__file__).resolve().parents[2] / "docs" / "partners"
PAGES = sorted(path.stem for path in GALLERY.glob("*.md") if path.name != "README.md")


def _json_blocks(path: Path) -> list:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", path.read_text(), re.DOTALL)]


def test_the_gallery_index_lists_every_page():
    index = (GALLERY / "README.md").read_text()

    assert PAGES and all(f"({page}.md)" in index for page in PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_each_pages_url_template_matches_the_schemas_pattern(page, client):
    schemas = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    config, _ = _json_blocks(GALLERY / f"{page}.md")

    for name in ("EndpointRequest", "PatchedEndpointRequest"):
        assert re.search(schemas[name]["properties"]["url_template"]["pattern"], config["url_template"]), name


@pytest.mark.parametrize("page", PAGES)
def test_each_partner_receives_the_request_its_page_documents(page, admin_client_api, platform_client):
    events, rules = _json_blocks(GALLERY / "README.md")
    config, expected = _json_blocks(GALLERY / f"{page}.md")
    assert admin_client_api.post("/api/v1/partners/", {"slug": page, "name": page}, format="json").status_code == 201
    for rule in rules:
        admin_client_api.post(f"/api/v1/partners/{page}/payouts/", rule, format="json")
    created = admin_client_api.post(f"/api/v1/partners/{page}/endpoints/", config, format="json")
    assert created.status_code == 201, created.json()
    for event in events:
        body = json.loads(json.dumps(event).replace('"PARTNER"', json.dumps(page)))
        assert platform_client.post("/api/v1/events/", body, format="json").status_code == 201

    endpoint = PostbackEndpoint.objects.select_related("partner").get(pk=created.json()["id"])
    for request in expected:
        rendered = template_preview(endpoint=endpoint, event=Event.objects.get(event_id=request["event"]))
        assert (rendered.method, rendered.url) == (request["method"], request["url"])
        assert headers_for_record(request.get("headers", {})).items() <= rendered.headers.items()
        assert (json.loads(rendered.body) if rendered.body else None) == request.get("body")
