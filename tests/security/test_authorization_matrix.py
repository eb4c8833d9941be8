"""Who may call what: every route in the URL conf has a rule here, and each rule is checked.

API routes: no key, a wrong key and a revoked key get 401; a platform key
on an admin-only route gets 403; the keys a rule admits get past the gate.
Admin routes: an anonymous visitor is sent to the login page; a marketing
user is refused configuration changes, API keys, users and lock-out
records (403) and may read and export. A route added without a rule here
fails ``test_every_route_has_a_rule``.
"""

import re
from dataclasses import dataclass

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.roles import MARKETING
from accounts.services import api_key_create, api_key_revoke
from deliveries.models import DeliveryAttempt
from events.models import EventType, PlayerErasure
from partners.models import Qualification, QualificationRule
from monitoring.models import Alert
from reporting.models import ExportJob
from tests.admin.conftest import member_of
from tests.factories import DeliveryFactory, PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory

PUBLIC, PLATFORM, ADMIN = "public", "platform or admin key", "admin key"

# REST API and other machine routes: route name → method → who may call it.
API_RULES = {
    "healthz": {"GET": PUBLIC},
    "healthz-live": {"GET": PUBLIC},
    "healthz-ready": {"GET": PUBLIC},
    "api-schema": {"GET": PUBLIC},
    "api-docs": {"GET": PUBLIC},
    "reporting:stats": {"GET": PLATFORM},
    "reporting:export-stats": {"GET": PLATFORM},
    "reporting:export-events": {"GET": PLATFORM},
    "reporting:export-deliveries": {"GET": PLATFORM},
    "event-list": {"GET": PLATFORM, "POST": PLATFORM},
    "event-batch": {"POST": PLATFORM},
    "event-reverse": {"POST": PLATFORM},
    "event-reverse-by-event-id": {"POST": PLATFORM},
    "event-detail": {"GET": PLATFORM},
    "delivery-list": {"GET": PLATFORM},
    "delivery-detail": {"GET": PLATFORM},
    "delivery-resend": {"POST": ADMIN},
    "delivery-resend-many": {"POST": ADMIN},
    "player-erase": {"POST": ADMIN},
    "partner-list": {"GET": ADMIN, "POST": ADMIN},
    "partner-detail": {"GET": ADMIN, "PUT": ADMIN, "PATCH": ADMIN},
    "partner-endpoint-list": {"GET": ADMIN, "POST": ADMIN},
    "partner-endpoint-detail": {"GET": ADMIN, "PUT": ADMIN, "PATCH": ADMIN},
    "partner-endpoint-preview": {"POST": ADMIN},
    "partner-endpoint-test": {"POST": ADMIN},
    "partner-payout-list": {"GET": ADMIN, "POST": ADMIN},
    "partner-payout-detail": {"GET": ADMIN, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
    "partner-qualification-rule-list": {"GET": ADMIN, "POST": ADMIN},
    "partner-qualification-rule-detail": {"GET": ADMIN, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
}
# Routes behind a gate of their own, not an API key; each is tested where named.
OWN_GATES = {
    "metrics": "METRICS_TOKEN or METRICS_ALLOWED_NETWORKS: tests/monitoring/test_metrics_view.py",
    "api-not-found": "nothing to guard: the same JSON 404 to every caller, as Django's handler404 gives: "
                     "tests/api/test_errors.py",
}

ALLOWED, FORBIDDEN, NOT_FOUND = "allowed", "forbidden", "not found"
READ_ONLY = [("GET", ALLOWED), ("POST", FORBIDDEN)]
NO_ACCESS = [("GET", FORBIDDEN)]

# Admin routes: route name (or pattern, for unnamed ones) → what a marketing user gets.
# Every admin route but the login page sends an anonymous visitor to log in.
ADMIN_RULES = {
    "admin:login": [("GET", ALLOWED)],
    # The same login page, sending marketing on to the statistics.
    "admin-login": [("GET", ALLOWED)],
    "admin:index": [("GET", ALLOWED)],
    "admin-dashboard": [("GET", ALLOWED)],
    "admin:logout": [("POST", ALLOWED)],
    "admin:password_change": [("GET", ALLOWED)],
    "admin:password_change_done": [("GET", ALLOWED)],
    # No model offers autocompletion, so every completion request is refused.
    "admin:autocomplete": NO_ACCESS,
    "admin:jsi18n": [("GET", ALLOWED)],
    # No model has a public page to view on site.
    "admin:view_on_site": [("GET", NOT_FOUND)],
    "admin:app_list": [("GET", ALLOWED)],
    "admin/(?P<url>.*)$": [("GET", NOT_FOUND)],
    "admin:reporting_statistics_changelist": [("GET", ALLOWED)],
    # Partitions and retention: the superusers' page, no role's.
    "admin:ingest_storage_changelist": NO_ACCESS,
    "admin:events_event_export": [("GET", ALLOWED)],
    "admin:deliveries_delivery_export": [("GET", ALLOWED)],
    "admin:partners_endpoint_preview": [("POST", ALLOWED)],
    # The add page's preview: marketing adds no endpoints, so it previews none unsaved.
    "admin:partners_endpoint_add_preview": [("POST", FORBIDDEN)],
    "admin:partners_endpoint_test": [("POST", FORBIDDEN)],
    "admin:deliveries_delivery_resend": [("POST", FORBIDDEN)],
    "admin:deliveries_delivery_cancel": [("POST", FORBIDDEN)],
    "admin:auth_user_password_change": NO_ACCESS,
    # Each person's own exports only: another's export is not found, and none is changed from the admin.
    "admin:reporting_exportjob_changelist": [("GET", ALLOWED)],
    "admin:reporting_exportjob_add": NO_ACCESS,
    # Another's export is outside the list, so its history page sends on to the index, as for any missing object.
    "admin:reporting_exportjob_history": [("GET", ALLOWED)],
    "admin:reporting_exportjob_delete": [("GET", FORBIDDEN), ("POST", FORBIDDEN)],
    "admin:reporting_exportjob_change": [("GET", NOT_FOUND), ("POST", NOT_FOUND)],
    "admin:reporting_exportjob_status": [("GET", NOT_FOUND)],
    "admin:reporting_exportjob_download": [("GET", NOT_FOUND)],
    "admin/reporting/exportjob/<path:object_id>/": [("GET", ALLOWED)],
}
# Model pages: configuration is read-only for marketing; secrets, users and lock-outs are closed.
_READ_ONLY_MODELS = ["partners_partner", "partners_postbackendpoint", "events_eventtype", "events_player",
                     "events_event", "deliveries_delivery", "monitoring_alert", "partners_qualification"]
_CLOSED_MODELS = ["auth_group", "auth_user", "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog",
                  "accounts_apikey", "events_playererasure"]
for _model in _READ_ONLY_MODELS:
    ADMIN_RULES |= {
        f"admin:{_model}_changelist": [("GET", ALLOWED)],
        f"admin:{_model}_add": NO_ACCESS,
        f"admin:{_model}_history": [("GET", ALLOWED)],
        f"admin:{_model}_delete": READ_ONLY[1:] + [("GET", FORBIDDEN)],
        f"admin:{_model}_change": READ_ONLY,
        f"admin/{_model.replace('_', '/', 1)}/<path:object_id>/": [("GET", ALLOWED)],
    }
for _model in _CLOSED_MODELS:
    ADMIN_RULES |= {
        f"admin:{_model}_changelist": NO_ACCESS,
        f"admin:{_model}_add": NO_ACCESS,
        f"admin:{_model}_history": NO_ACCESS,
        f"admin:{_model}_delete": NO_ACCESS,
        f"admin:{_model}_change": [("GET", FORBIDDEN), ("POST", FORBIDDEN)],
        # Sends on to the change page, which refuses.
        f"admin/{_model.replace('_', '/', 1)}/<path:object_id>/": [("GET", ALLOWED)],
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Hundreds of users are made here; the real hasher's cost proves nothing about access rules.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass(frozen=True)
class Route:
    key: str
    pattern: str
    callback: object


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = ":".join(filter(None, [namespace, pattern.name])) if pattern.name else ""
            yield Route(key=name or route, pattern=route, callback=pattern.callback)


ROUTES = list(_walk(get_resolver().url_patterns))


def _is_admin(route: Route) -> bool:
    return route.pattern.startswith("admin/")


def _api_methods(route: Route) -> set[str]:
    actions = getattr(route.callback, "actions", None)
    if actions:
        return {method.upper() for method in actions} - {"HEAD", "OPTIONS"}
    view = getattr(route.callback, "cls", None) or getattr(route.callback, "view_class", None)
    if view is None:
        return {"GET"}
    return {m.upper() for m in view.http_method_names if hasattr(view, m) and m not in ("head", "options")}


def test_every_route_has_a_rule():
    missing = [r.key for r in ROUTES if r.key not in (ADMIN_RULES if _is_admin(r) else API_RULES | OWN_GATES)]
    assert missing == [], f"routes without an authorisation rule: {missing}"


def test_every_api_method_has_a_rule():
    gaps = {
        r.key: sorted(_api_methods(r) ^ set(API_RULES[r.key]))
        for r in ROUTES if not _is_admin(r) and r.key in API_RULES
    }
    assert {key: methods for key, methods in gaps.items() if methods} == {}


def test_no_rule_is_left_over():
    keys = {r.key for r in ROUTES}
    assert sorted(set(API_RULES) - keys) == [] and sorted(set(ADMIN_RULES) - keys) == []


# --- the REST API ---------------------------------------------------------------

API_CASES = [(key, method, rule) for key, methods in API_RULES.items() for method, rule in methods.items()]


@pytest.fixture
def world(db):
    """One object of every kind, so every route has something real to address."""
    delivery = DeliveryFactory(
        endpoint=PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), url_template="http://127.0.0.1:9/pb")
    )
    payout = PayoutRuleFactory(partner=delivery.partner)
    rule = QualificationRule.objects.create(partner=delivery.partner, name="CPA", min_deposit_count=1)
    return {"delivery": delivery, "payout": payout, "rule": rule}


def _api_url(key: str, world) -> str:
    delivery = world["delivery"]
    pattern = next(r.pattern for r in ROUTES if r.key == key)
    ids = {"events": delivery.event_id, "deliveries": delivery.pk, "endpoints": delivery.endpoint_id,
           "payouts": world["payout"].pk, "rules": world["rule"].pk}
    url = "/" + pattern.replace("^", "").replace("$", "")
    url = re.sub(r"\(\?P<(partner_slug|slug)>[^)]*\)", "acme", url)
    url = url.replace("<path:player_id>", delivery.event.player_id)
    return re.sub(r"(\w+)/\(\?P<pk>[^)]*\)", lambda m: f"{m.group(1)}/{ids[m.group(1)]}", url)


def _call(client: APIClient, method: str, url: str):
    return getattr(client, method.lower())(url, {}, format="json") if method != "GET" else client.get(url)


def _keyed(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.mark.parametrize("key, method, rule", API_CASES)
def test_api_gates(world, key, method, rule):
    url = _api_url(key, world)
    platform, admin = (api_key_create(name=role, role=role) for role in (ApiKey.Role.PLATFORM, ApiKey.Role.ADMIN))
    revoked = api_key_create(name="old", role=ApiKey.Role.ADMIN)
    api_key_revoke(api_key=revoked.api_key)

    outsiders = {"no key": APIClient(), "wrong key": _keyed("pk_" + "x" * 40), "revoked key": _keyed(revoked.plaintext)}
    for who, client in outsiders.items():
        status = _call(client, method, url).status_code
        assert (status in (401, 403)) is (rule != PUBLIC), f"{method} {url} with {who}: {status}"
        if rule != PUBLIC:
            assert status == 401, f"{method} {url} with {who}: {status}, want 401"

    platform_status = _call(_keyed(platform.plaintext), method, url).status_code
    assert (platform_status == 403) is (rule == ADMIN), f"{method} {url} with a platform key: {platform_status}"
    admin_status = _call(_keyed(admin.plaintext), method, url).status_code
    assert admin_status not in (401, 403), f"{method} {url} with an admin key: {admin_status}"


# --- the admin ------------------------------------------------------------------

ADMIN_CASES = [(key, method, want) for key, cases in ADMIN_RULES.items() for method, want in cases]


@pytest.fixture
def admin_objects(world):
    user = User.objects.create_user(username="someone", password="pw-for-tests-only")
    delivery = world["delivery"]
    return {
        "auth/group": Group.objects.get(name=MARKETING).pk,
        "auth/user": user.pk,
        "axes/accessattempt": AccessAttempt.objects.create(username="x", failures_since_start=1).pk,
        "axes/accesslog": AccessLog.objects.create(username="x").pk,
        "axes/accessfailurelog": AccessFailureLog.objects.create(username="x").pk,
        "accounts/apikey": api_key_create(name="k", role=ApiKey.Role.ADMIN).api_key.pk,
        "partners/partner": delivery.partner.pk,
        "partners/postbackendpoint": delivery.endpoint_id,
        # A custom type: built-in ones cannot be deleted by anyone.
        "events/eventtype": EventType.objects.create(slug="vip_upgrade", name="VIP upgrade").pk,
        "events/player": delivery.event.player_id,
        "events/event": delivery.event_id,
        "deliveries/delivery": delivery.pk,
        "partners/qualification": Qualification.objects.create(
            rule=QualificationRule.objects.create(partner=delivery.partner, name="CPA", min_deposit_count=1),
            player=delivery.event.player, qualified_at=delivery.event.occurred_at,
        ).pk,
        "events/playererasure": PlayerErasure.objects.create(pseudonym="erased-0", requested_by="admin user x").pk,
        "reporting/exportjob": ExportJob.objects.create(
            requested_by=user, model="events.event", file_name="events_2026-12-05_1200.csv"
        ).pk,
        "monitoring/alert": Alert.objects.create(kind=Alert.Kind.BACKLOG_AGE, key="backlog", summary="old").pk,
        "content_type": ContentType.objects.get_for_model(User).pk,
    }


def _admin_url(key: str, objects: dict) -> str:
    pattern = next(r.pattern for r in ROUTES if r.key == key)
    if key == "admin:app_list":
        return "/admin/partners/"
    if key == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    if key == "admin:view_on_site":
        return f"/admin/r/{objects['content_type']}/{objects['auth/user']}/"
    model = re.match(r"admin/(\w+/\w+)/", pattern)
    object_id = objects.get(model.group(1)) if model else None
    return "/" + re.sub(r"<(path:object_id|id|int:pk)>", str(object_id), pattern)


@pytest.mark.parametrize("key, method, want", ADMIN_CASES)
def test_admin_gates(client, admin_objects, key, method, want):
    url = _admin_url(key, admin_objects)

    anonymous = getattr(client, method.lower())(url)
    if key in ("admin:login", "admin-login"):
        assert anonymous.status_code == 200
    elif key == "admin:logout":
        assert anonymous.status_code == 302 and anonymous["Location"] == "/admin/"
    else:
        assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"], (url, anonymous.status_code)

    client.force_login(member_of(MARKETING))
    status = getattr(client, method.lower())(url).status_code
    expected = {ALLOWED: status < 400, FORBIDDEN: status == 403, NOT_FOUND: status == 404}[want]
    assert expected, f"marketing {method} {url}: {status}, want {want}"


# --- what each role sees ------------------------------------------------------------
#
# Both roles read the status routes; only admin keys see what went to the
# partner and what it answered (the request URL may carry a partner's token).
# Per route and role: the fields that carry a value, at each level of the body.

DELIVERY_STATUS = {
    "id", "event", "endpoint", "partner", "event_type", "status", "attempts", "next_attempt_at", "delivered_at",
    "last_status_code", "last_error", "created_at",
}
DELIVERY_DETAIL_STATUS = DELIVERY_STATUS | {"attempt_count", "request_method", "held_reason"}
ATTEMPT_STATUS = {
    "number", "outcome", "started_at", "finished_at", "duration_ms", "request_method", "status_code", "error",
    "error_class",
}
PARTNER_EXCHANGE = {"request_url"}
ATTEMPT_PARTNER_EXCHANGE = {"request_url", "response_excerpt"}

VISIBLE_FIELDS = {
    ("delivery-list", ApiKey.Role.PLATFORM): {"results[]": DELIVERY_STATUS},
    ("delivery-list", ApiKey.Role.ADMIN): {"results[]": DELIVERY_STATUS},
    ("delivery-detail", ApiKey.Role.PLATFORM): {"": DELIVERY_DETAIL_STATUS, "attempts[]": ATTEMPT_STATUS},
    ("delivery-detail", ApiKey.Role.ADMIN): {
        "": DELIVERY_DETAIL_STATUS | PARTNER_EXCHANGE, "attempts[]": ATTEMPT_STATUS | ATTEMPT_PARTNER_EXCHANGE,
    },
    ("event-list", ApiKey.Role.PLATFORM): {"results[].deliveries[]": DELIVERY_STATUS},
    ("event-list", ApiKey.Role.ADMIN): {"results[].deliveries[]": DELIVERY_STATUS},
    ("event-detail", ApiKey.Role.PLATFORM): {"deliveries[]": DELIVERY_STATUS},
    ("event-detail", ApiKey.Role.ADMIN): {"deliveries[]": DELIVERY_STATUS},
}
PARTNER_TOKEN, PARTNER_ANSWER = "tok-3f9a7c21", "welcome back, affiliate 77"


@pytest.fixture
def delivered_world(db):
    """A delivery with every status field set and an attempt holding a partner's token and answer."""
    now = timezone.now()
    url = f"https://partner.example/pb?click=c-1&token={PARTNER_TOKEN}"
    delivery = DeliveryFactory(
        endpoint=PostbackEndpointFactory(partner=PartnerFactory(slug="acme")), status="retrying", attempt_count=1,
        next_attempt_at=now, delivered_at=now, last_status_code=503, last_error="HTTP 503",
        request_method="GET", request_url=url,
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, outcome="retry", request_method="GET", request_url=url, started_at=now,
        finished_at=now, duration_ms=80, status_code=503, response_excerpt=PARTNER_ANSWER, error="HTTP 503",
        error_class="http_5xx",
    )
    rule = QualificationRule.objects.create(partner=delivery.partner, name="CPA", min_deposit_count=1)
    return {"delivery": delivery, "payout": PayoutRuleFactory(partner=delivery.partner), "rule": rule}


def _values_at(body, path: str) -> list[dict]:
    objects = [body]
    for step in filter(None, path.split(".")):
        objects = [item for obj in objects for item in obj[step.removesuffix("[]")]]
    return objects


def _visible(body, path: str) -> set[str]:
    return {name for obj in _values_at(body, path) for name, value in obj.items() if value is not None}


@pytest.mark.parametrize("key, role", sorted(VISIBLE_FIELDS))
def test_each_role_sees_the_fields_its_table_names(delivered_world, key, role):
    client = _keyed(api_key_create(name=role, role=role).plaintext)

    response = client.get(_api_url(key, delivered_world))

    assert response.status_code == 200
    for path, fields in VISIBLE_FIELDS[(key, role)].items():
        assert _values_at(response.json(), path), f"{key}: nothing at {path!r}"
        assert _visible(response.json(), path) == fields, f"{key} for {role} at {path!r}"
    if role == ApiKey.Role.PLATFORM:
        assert PARTNER_TOKEN not in response.content.decode()
        assert PARTNER_ANSWER not in response.content.decode()


def test_every_status_route_has_a_field_table():
    readable = {key for key, methods in API_RULES.items() if methods.get("GET") == PLATFORM}
    reports = {"reporting:stats", "reporting:export-stats", "reporting:export-events", "reporting:export-deliveries"}

    assert {key for key, _ in VISIBLE_FIELDS} == readable - reports
