"""The console and the API docs (Swagger UI) work without internet, and no admin page logs a JavaScript error.

Every request the browser makes is routed through a guard: one that would
leave this host is aborted (so nothing reaches the internet even when a test
fails) and recorded, and the test fails on it. Console errors and uncaught
exceptions are recorded the same way, on every page visited.
"""

from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from deliveries.models import Delivery
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory

from .conftest import PASSWORD, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
PAGE_TIMEOUT_MS = 15_000


@pytest.fixture
def guarded(page):
    """The page, with every request that leaves the host refused and every JavaScript error kept."""
    left, errors = [], []

    def guard(route):
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.context.route("**/*", guard)
    page.on("console", lambda message: message.type == "error" and errors.append(f"{page.url}: {message.text}"))
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.left, page.errors = left, errors
    return page


def _visit(page, url: str) -> None:
    response = page.goto(url, wait_until="networkidle", timeout=PAGE_TIMEOUT_MS)
    assert response.status < 400, (url, response.status)


def _admin_pages(user) -> list[str]:
    """Every registered model's list, its add page where one may add, and the change page of its first row."""
    request = RequestFactory().get("/admin/")
    request.user = user
    urls = ["/admin/", reverse("admin-dashboard")]
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        urls.append(reverse("admin:%s_%s_changelist" % info))
        if not model._meta.managed:
            continue  # a page of figures (statistics, storage), not rows
        first = model._default_manager.order_by("pk").first()
        pages = [("add", ())] if model_admin.has_add_permission(request) else []
        pages += [("change", (first.pk,))] if first else []
        for name, args in pages:
            try:
                urls.append(reverse("admin:%s_%s_%s" % (*info, name), args=args))
            except NoReverseMatch:
                pass
    return urls


def test_api_docs_draw_from_this_host_only(guarded):
    _visit(guarded, "/api/docs/")
    guarded.wait_for_selector(".swagger-ui .information-container .title", timeout=PAGE_TIMEOUT_MS)
    assert "Postback platform API" in guarded.locator(".swagger-ui .title").first.inner_text()
    screenshot(guarded, "30-api-docs-offline")

    assert guarded.left == []
    assert guarded.errors == []


def test_every_admin_page_works_offline_without_javascript_errors(guarded):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(name="Acme Ads"))
    PayoutRuleFactory(partner=endpoint.partner)
    delivery = DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=endpoint.partner),
                               status=Delivery.Status.FAILED, last_error="HTTP 500")
    delivery.attempts.create(number=1, outcome="failure", request_method="GET", request_url="https://partner.example/",
                             status_code=500, error="HTTP 500")
    root = User.objects.create_superuser("root", password=PASSWORD)

    log_in(guarded, "root")
    visited = []
    for url in _admin_pages(root):
        _visit(guarded, url)
        visited.append(url)

    assert len(visited) >= 20, visited
    assert guarded.left == [], guarded.left
    assert guarded.errors == [], guarded.errors
