import json
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from deliveries import dashboard_selectors as delivery_reads
from deliveries.services import endpoint_send_test, template_preview
from events import dashboard_selectors as event_reads
from events.currencies import money_text
from events.models import EventType
from lib.subqueries import count_subquery
from partners import templating
from partners.credentials import CLEARED_NOTICE
from partners.models import Partner, PayoutRule, PostbackEndpoint, Qualification, QualificationRule
from partners.services import endpoint_pause, endpoint_resume, endpoint_save, partner_save
from partners.signing import headers_for_record
from partners.validation import endpoint_config_errors

from .confirm import Confirmation, confirmation_response, history_write, is_confirmed
from .endpoint_form import EndpointAdminForm
from .permissions import ReadOnlyAdminMixin
from .times import console_time

ACTIVITY_WINDOW = timedelta(hours=24)
_MACRO_MEANINGS = {
    "click_id": "the click id the player was attributed with",
    "event_type": "registration, deposit, first_deposit …",
    "event_name": "the partner's name for the event type (Event names below), else the type itself",
    "event_id": "the platform's event id",
    "player_id": "the platform's player id",
    "partner": "this partner's slug",
    "amount": "the event's amount, e.g. 25.00",
    "currency": "ISO 4217 code, e.g. EUR",
    "payout": "what the partner's payout rule gives for this event",
    "payout_currency": "the payout's currency: a fixed rule's own, a percent rule's event's",
    "is_first_deposit": "1 for the player's first deposit, else 0",
    "occurred_at": "when it happened, ISO 8601 (UTC)",
    "timestamp": "when it happened, Unix seconds",
    "delivery_id": "this delivery's id (also the webhook-id header)",
}
_FILTER_MEANINGS = [
    ("|default:VALUE", "VALUE when empty, e.g. {click_id|default:organic}"),
    ("|lower |upper |trim", "change case, strip spaces"),
    ("|sha256", "hex SHA-256 of the text, e.g. {params.email|trim|lower|sha256}"),
    ("|unix |unix_ms |unix_us", "a time as Unix seconds, milliseconds, microseconds"),
    ("|date:PATTERN", "a time as a strftime pattern, e.g. {occurred_at|date:%Y-%m-%d}"),
    ("|cents", "an amount in minor units of its currency, e.g. {amount|cents}"),
    ("|omit", "leave out the query or form pair, JSON member or header when empty"),
    ("|number |bool", 'JSON only, a whole string value: "value": "{amount|number}" sends a number'),
]
MACRO_REFERENCE = (
    [(f"{{{name}}}", _MACRO_MEANINGS.get(name, "")) for name in templating.MACROS]
    + [("{params.NAME}", "a value from the event's params, else the player's tracking params, e.g. {params.sub1}")]
    + [("{secret.NAME}", "one of the endpoint's credentials: sent to the partner, shown everywhere else as ••••")]
    + _FILTER_MEANINGS
)
TEMPLATE_FIELDS = ("url_template", "method", "body_format", "body_template", "headers", "event_names")
# Methods whose requests carry the body template; the editor hides the body fields for the others.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
BODY_FIELDS = ("body_format", "body_template")
UNSAVED_TEST_NOTE = "Save first: the test sends the saved configuration"


def _names(objects) -> str:
    return ", ".join(str(obj) for obj in objects)


def _paused_badge(reason: str = ""):
    return format_html('<strong class="console-bad">Paused</strong>{}', f": {reason}" if reason else "")


def _keep_previous_active_state(obj, form, change: bool) -> dict:
    """Undo the form's write of ``is_active`` and return it as a change, so a service pauses or resumes."""
    if "is_active" not in form.changed_data:
        return {}
    wanted = obj.is_active
    obj.is_active = form.initial.get("is_active", True) if change else True
    return {"is_active": wanted}


@dataclass(frozen=True)
class PartnerActivity:
    events: int
    deliveries: delivery_reads.DeliveryCounts


class PartnerChangeList(ChangeList):
    """Adds the last 24 h of activity to the partners on the page, after paging.

    A few grouped queries for the page's partners, instead of correlated
    subqueries per row that the database would plan (and JIT-compile) as one
    large statement.
    """

    def get_results(self, request):
        super().get_results(request)
        since = timezone.now() - ACTIVITY_WINDOW
        ids = [partner.pk for partner in self.result_list]
        events = event_reads.event_counts_by_partner(partner_ids=ids, since=since)
        deliveries = delivery_reads.delivery_counts_by_partner(partner_ids=ids, since=since)
        for partner in self.result_list:
            partner.activity = PartnerActivity(events.get(partner.pk, 0), deliveries[partner.pk])


class PostbackEndpointInline(admin.TabularInline):
    """The partner's endpoints at a glance; each is configured on its own page."""

    model = PostbackEndpoint
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["name", "method", "url_template", "is_active", "paused_at", "consecutive_failures"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class PayoutRuleInline(admin.TabularInline):
    model = PayoutRule
    extra = 0
    readonly_fields = ["pays"]

    @admin.display(description="Pays")
    def pays(self, rule):
        if rule.pk is None:
            return "—"
        if rule.kind == PayoutRule.Kind.PERCENT:
            return f"{rule.value.normalize():,f} % of the event's amount, in its currency"
        return f"{money_text(rule.value, rule.currency)} per event"


class QualificationRuleInline(admin.StackedInline):
    model = QualificationRule
    extra = 0
    fields = [
        ("name", "is_active"), ("window_start", "window_days"), "currency",
        ("min_first_deposit", "min_deposit_count", "min_deposit_sum"), ("wager_param", "min_wager_sum"),
        "allowed_countries",
    ]

    def has_delete_permission(self, request, obj=None):
        # A rule that qualified players is named by their record: deactivate it instead.
        return False


class PauseResumeActionsMixin:
    """What *pause* and *resume* do for partners and endpoints: ask first, switch each through the model's
    service (``switch_one``), write the history, say what changed. ``switchable`` picks, in display order,
    those selected that are not yet in the state asked for; ``switch_kind`` names them."""

    switch_kind: str

    def _switch(self, request, queryset, *, active: bool):
        kind = self.switch_kind
        to_switch = list(self.switchable(queryset, active=active))
        unchanged = queryset.count() - len(to_switch)
        if to_switch and not is_confirmed(request):
            held = delivery_reads.open_deliveries_count(by=kind, ids=[obj.pk for obj in to_switch])
            counts = [(str(obj), held.get(obj.pk, 0)) for obj in to_switch]
            confirmation = _switch_confirmation(kind, counts, unchanged, active=active)
            return confirmation_response(self, request, confirmation, action="resume" if active else "pause")
        for obj in to_switch:
            self.switch_one(request, obj, active=active)
        history_write(request, to_switch, f"{'Resumed' if active else 'Paused'} from the {kind}s list")
        names = _names(to_switch) or "none"
        if active:
            done = f"Resumed {len(to_switch)} {kind}(s): {names}; held deliveries go out now."
        else:
            done = f"Paused {len(to_switch)} {kind}(s): {names}; their deliveries are held, not dropped."
        self.message_user(request, done)
        if unchanged:
            self.message_user(request, f"{unchanged} already {'active' if active else 'paused'}, left as they were.")
        return None


@admin.register(Partner)
class PartnerAdmin(PauseResumeActionsMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "scope", "state", "events_24h", "success_rate_24h", "last_error_24h"]
    list_filter = ["is_active", "scope"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "scope", "is_active", "notes"]
    inlines = [PostbackEndpointInline, PayoutRuleInline, QualificationRuleInline]
    actions = ["pause", "resume"]
    switch_kind = "partner"

    def get_queryset(self, request):
        held = PostbackEndpoint.objects.filter(partner=OuterRef("pk"), is_active=False)
        return super().get_queryset(request).annotate(endpoints_held=count_subquery(held, outer_field="partner"))

    def get_changelist(self, request, **kwargs):
        return PartnerChangeList

    def save_model(self, request, obj, form, change):
        partner_save(partner=obj, fields=_keep_previous_active_state(obj, form, change))

    @admin.action(description="Pause selected partners (hold their deliveries)", permissions=["change"])
    def pause(self, request, queryset):
        return self._switch(request, queryset, active=False)

    @admin.action(description="Resume selected partners (send what was held)", permissions=["change"])
    def resume(self, request, queryset):
        return self._switch(request, queryset, active=True)

    def switchable(self, queryset, *, active: bool):
        return queryset.filter(is_active=not active).order_by("name")

    def switch_one(self, request, partner, *, active: bool) -> None:
        partner_save(partner=partner, fields={"is_active": active})

    @admin.display(description="State", ordering="is_active")
    def state(self, partner):
        if not partner.is_active:
            return _paused_badge()
        if partner.endpoints_held:
            return f"Active · {partner.endpoints_held} endpoint(s) paused"
        return "Active"

    @admin.display(description="Events (24 h)")
    def events_24h(self, partner):
        return partner.activity.events

    @admin.display(description="Delivered (24 h)")
    def success_rate_24h(self, partner):
        deliveries = partner.activity.deliveries
        if not deliveries.finished:
            return "—"
        rate = 100 * deliveries.delivered / deliveries.finished
        css = "console-good" if rate >= 95 else "console-bad"
        return format_html('<span class="{}">{}%</span> of {}', css, f"{rate:.1f}", deliveries.finished)

    @admin.display(description="Last error (24 h)")
    def last_error_24h(self, partner):
        return (partner.activity.deliveries.last_error or "—")[:120]


@admin.register(PostbackEndpoint)
class PostbackEndpointAdmin(PauseResumeActionsMixin, admin.ModelAdmin):
    form = EndpointAdminForm
    list_display = ["name", "partner", "method", "state", "circuit", "consecutive_failures", "updated_at"]
    list_filter = ["is_active", "method", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "partner__name", "partner__slug"]
    filter_horizontal = ["event_types"]
    readonly_fields = [
        "macro_reference",
        "live_preview",
        "test_postbacks",
        "signing_secret_state",
        "credential_names",
        "masked_headers",
        "consecutive_failures",
        "circuit",
        "paused_at",
        "pause_reason",
    ]
    actions = ["pause", "resume"]
    switch_kind = "endpoint"
    fieldsets = [
        (None, {"fields": ["partner", "name", "event_types", "is_active"]}),
        (
            "Request",
            {
                "fields": [
                    "method",
                    ("url_template", "macro_reference"),
                    "body_format",
                    "body_template",
                    "headers",
                    "event_names",
                ],
                "description": "Macros are replaced by the event's values, escaped for where they land; filters "
                "follow a macro after |, e.g. {params.email|trim|lower|sha256}.",
            },
        ),
        (
            "Preview and test",
            {
                "fields": ["live_preview", "test_postbacks"],
                "description": "The preview follows the form above as it is edited, saved or not; nothing is sent. "
                "A test postback sends a sample event with the saved configuration: a real request, marked as a "
                "test and left out of statistics.",
            },
        ),
        (
            "Authentication and credentials",
            {
                "fields": ["auth_type", "credential_names", "new_credentials", "oauth_token_url", "oauth_scope"],
                "description": "Credentials are write-only: only the partner receives them; every request shown "
                "here or stored carries •••• in their place. Changing the scheme, host or port of the URL or the "
                "token URL clears them unless they are entered again in the same change.",
            },
        ),
        ("Matching", {"fields": ["filters"]}),
        (
            "Hold period",
            {
                "fields": ["hold_hours", "hold_event_types"],
                "description": "For CPA deals with a chargeback window: postbacks of the chosen types go out this "
                "many hours after their event happened, and only if it was not reversed meanwhile.",
            },
        ),
        (
            "Signing",
            {
                "fields": ["signing_secret_state", "new_signing_secret", "generate_signing_secret"],
                "description": "Requests carry a Standard Webhooks signature when a secret is set.",
            },
        ),
        (
            "Reliability",
            {
                "fields": [
                    "timeout_seconds",
                    "max_attempts",
                    "success_body_contains",
                    "refused_body_contains",
                    "rate_limit_per_second",
                    "ordered_per_player",
                    "circuit_failure_threshold",
                    "consecutive_failures",
                    "circuit",
                    "paused_at",
                    "pause_reason",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only visitors get no secret inputs, no test button, masked credential headers, and no body
        # fields where the method sends none.
        shown = {"headers": "masked_headers", "test_postbacks": "test_history"}
        left_out = set(EndpointAdminForm.write_only)
        if obj is not None and obj.method not in BODY_METHODS:
            left_out.update(BODY_FIELDS)
        return [
            (name, {**options, "fields": [shown.get(f, f) for f in options["fields"] if f not in left_out]})
            for name, options in self.fieldsets
        ]

    @admin.display(description="Headers")
    def masked_headers(self, endpoint):
        return json.dumps(headers_for_record(endpoint.headers or {}))

    def save_model(self, request, obj, form, change):
        fields = _keep_previous_active_state(obj, form, change)
        secret, generated = form.chosen_secret()
        if secret:
            fields["signing_secret"] = secret
        rotates = change and bool(obj.signing_secret) and secret is not None
        endpoint_save(endpoint=obj, fields=fields)
        if form.credentials_cleared:
            self.message_user(request, CLEARED_NOTICE, messages.WARNING)
        if generated:
            self.message_user(
                request, f"Signing secret generated. Copy it now, it is not shown again: {secret}", messages.WARNING
            )
        if rotates:
            hours = settings.POSTBACK_SECRET_ROTATION_GRACE_HOURS
            self.message_user(request, f"Signing secret rotated; the previous one keeps signing for {hours} h.")

    @admin.action(description="Pause selected endpoints (hold their deliveries)", permissions=["change"])
    def pause(self, request, queryset):
        return self._switch(request, queryset, active=False)

    @admin.action(description="Resume selected endpoints (send what was held)", permissions=["change"])
    def resume(self, request, queryset):
        return self._switch(request, queryset, active=True)

    def switchable(self, queryset, *, active: bool):
        return queryset.filter(is_active=not active).select_related("partner").order_by("partner__name", "name")

    def switch_one(self, request, endpoint, *, active: bool) -> None:
        if active:
            endpoint_resume(endpoint=endpoint)
        else:
            endpoint_pause(endpoint=endpoint, reason=f"paused by {request.user.get_username()} in the admin")

    def get_urls(self):
        own = [
            path("add/preview/", self.admin_site.admin_view(self.add_preview_view), name="partners_endpoint_add_preview"),
            path("<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="partners_endpoint_preview"),
            path("<int:pk>/send-test/", self.admin_site.admin_view(self.send_test_view), name="partners_endpoint_test"),
        ]
        return own + super().get_urls()

    @staticmethod
    def _endpoint_or_404(pk) -> PostbackEndpoint:
        return get_object_or_404(PostbackEndpoint.objects.select_related("partner"), pk=pk)

    def preview_view(self, request, pk):
        """The request the form's current, unsaved templates would send: the page's live preview."""
        endpoint = self._endpoint_or_404(pk)
        if request.method != "POST" or not self.has_view_permission(request, endpoint):
            raise PermissionDenied
        return _preview_response(endpoint, request.POST, event=delivery_reads.endpoint_recent_event(endpoint))

    def add_preview_view(self, request):
        """The add page's live preview: the unsaved form, partner and event types included, on a sample event."""
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        return _preview_response(PostbackEndpoint(), request.POST, event=None)

    def send_test_view(self, request, pk):
        endpoint = self._endpoint_or_404(pk)
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        back = reverse("admin:partners_postbackendpoint_change", args=[endpoint.pk])
        if not is_confirmed(request):
            return confirmation_response(self, request, _send_test_confirmation(endpoint, back))
        attempt = endpoint_send_test(endpoint=endpoint)
        succeeded = attempt is not None and attempt.outcome == attempt.Outcome.SUCCESS
        # The history keeps the outcome and status code only: a partner's answer is not for every admin reader.
        recorded = _test_summary(attempt, with_response=False)
        history_write(request, [endpoint], f"Sent a test postback. {recorded}"[:500])
        self.message_user(request, _test_summary(attempt), messages.SUCCESS if succeeded else messages.ERROR)
        return redirect(back)

    @admin.display(description="State", ordering="is_active")
    def state(self, endpoint):
        if endpoint.is_active:
            return "Active"
        return _paused_badge(endpoint.pause_reason)

    @admin.display(description="Circuit")
    def circuit(self, endpoint):
        """Closed, or open since when and when the next probe goes out (its deliveries are held meanwhile)."""
        if endpoint is None or endpoint.circuit_opened_at is None:
            return "Closed"
        return format_html(
            '<strong style="color:#ba2121">Open</strong> since {} · next probe {}',
            console_time(endpoint.circuit_opened_at), console_time(endpoint.circuit_next_probe_at),
        )

    @admin.display(description="Macros")
    def macro_reference(self, endpoint):
        return render_to_string("admin/partners/macro_reference.html", {"macros": MACRO_REFERENCE})

    @admin.display(description="Preview")
    def live_preview(self, endpoint):
        if endpoint is None or endpoint.pk is None:
            # The add page: the script renders the form as it is filled in.
            context = {"preview_url": reverse("admin:partners_endpoint_add_preview"), "source": "a sample event"}
            return render_to_string("admin/partners/endpoint_preview.html", context)
        event = delivery_reads.endpoint_recent_event(endpoint)
        context = {
            "preview_url": reverse("admin:partners_endpoint_preview", args=[endpoint.pk]),
            "preview": _preview(endpoint, event),
            "source": f"its latest event, {event.event_id}" if event else "a sample event",
        }
        return render_to_string("admin/partners/endpoint_preview.html", context)

    @admin.display(description="Test postbacks")
    def test_postbacks(self, endpoint):
        """The latest tests, with the button that sends one (the form it submits sits outside the change form)."""
        saved = endpoint is not None and endpoint.pk is not None
        context = {
            "saved": saved, "unsaved_note": UNSAVED_TEST_NOTE,
            "attempts": delivery_reads.endpoint_test_attempts(endpoint) if saved else [],
        }
        return render_to_string("admin/partners/endpoint_test_send.html", context)

    @admin.display(description="Latest tests")
    def test_history(self, endpoint):
        attempts = delivery_reads.endpoint_test_attempts(endpoint) if endpoint and endpoint.pk else []
        return render_to_string("admin/partners/endpoint_tests.html", {"attempts": attempts})

    @admin.display(description="Stored credentials")
    def credential_names(self, endpoint):
        names = sorted(endpoint.credentials or {}) if endpoint else []
        return ", ".join(names) + " (values hidden)" if names else "None."

    @admin.display(description="Signing secret")
    def signing_secret_state(self, endpoint):
        if not endpoint.signing_secret:
            return "Not set: requests go out unsigned."
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_signing_secret and expires and expires > timezone.now():
            return f"Set (hidden). The previous secret also signs until {expires:%Y-%m-%d %H:%M} UTC."
        return "Set (hidden)."


def _preview_response(endpoint: PostbackEndpoint, data, *, event) -> JsonResponse:
    """The preview of ``endpoint`` with the form's unsaved fields in ``data`` put on it (never saved)."""
    errors = _apply_unsaved_partner(endpoint, data) or _apply_unsaved_templates(endpoint, data)
    errors = errors or endpoint_config_errors(
        **{name: getattr(endpoint, name) for name in TEMPLATE_FIELDS}, filters=endpoint.filters,
        credentials=endpoint.credentials, auth_type=endpoint.auth_type, oauth_token_url=endpoint.oauth_token_url,
    )
    if errors:
        return JsonResponse({"errors": errors})
    event_types = _unsaved_event_types(data)
    if event_types is None and endpoint.pk is None:
        event_types = []  # an unsaved endpoint has no event types of its own to fall back on
    return JsonResponse(_preview(endpoint, event, event_types=event_types))


def _apply_unsaved_partner(endpoint: PostbackEndpoint, data) -> dict[str, str]:
    """Put the form's partner on ``endpoint``; a reason when an unsaved endpoint has none to preview with."""
    chosen = data.get("partner", "")
    partner = Partner.objects.filter(pk=chosen).first() if chosen.isdigit() else None
    if partner is not None:
        endpoint.partner = partner
    elif endpoint.partner_id is None:
        return {"partner": "Choose the partner: the preview renders its macros and payout for it."}
    return {}


def _unsaved_event_types(data) -> list[str] | None:
    """The slugs of the event types the form has chosen (ids), or None when it sent none to go by."""
    if "event_types" not in data:
        return None
    ids = [value for value in data.getlist("event_types") if value.isdigit()]
    return list(EventType.objects.filter(pk__in=ids).values_list("slug", flat=True))


def _apply_unsaved_templates(endpoint: PostbackEndpoint, data) -> dict[str, str]:
    """Put the form's template fields on ``endpoint`` (never saved); field → reason for what cannot be read."""
    for name in ("url_template", "method", "body_format", "body_template"):
        if name in data:
            setattr(endpoint, name, data[name])
    for name, example in (("headers", '{"X-Token": "abc"}'), ("event_names", '{"registration": "lead"}')):
        if name in data:
            try:
                setattr(endpoint, name, json.loads(data[name] or "{}"))
            except ValueError as exc:
                label = name.replace("_", " ").capitalize()
                return {name: f"{label} are not valid JSON ({exc}); write an object such as {example}."}
    return {}


def _preview(endpoint: PostbackEndpoint, event, *, event_types: list[str] | None = None) -> dict:
    try:
        rendered = template_preview(endpoint=endpoint, event=event, event_types=event_types)
    except templating.TemplateError as exc:
        return {"errors": {"template": str(exc)}}
    return {"method": rendered.method, "url": rendered.url, "headers": rendered.headers, "body": rendered.body}


def _switch_confirmation(kind: str, counts: list[tuple[str, int]], unchanged: int, *, active: bool) -> Confirmation:
    """Confirming a pause or resume of partners or endpoints: ``counts`` are (name, open deliveries) pairs."""
    count = len(counts)
    held = sum(open_ for _, open_ in counts)
    plural = f"{count} {kind}{pluralize(count)}"
    if active:
        facts = [f"Resume {plural}: the {held:,} pending or retrying deliveries they hold go out now, at each "
                 "endpoint's rate limit, in the order they were created."]
    else:
        facts = [f"Pause {plural}: their deliveries ({held:,} pending or retrying now, and every new one) are held, "
                 "not dropped, until a manager resumes them. Nothing is sent meanwhile."]
    if unchanged:
        facts.append(f"{unchanged} selected already {'active' if active else 'paused'}: left as they are.")
    return Confirmation(
        title=f"{'Resume' if active else 'Pause'} {plural}?", facts=facts,
        columns=[kind.capitalize(), "Pending or retrying deliveries"],
        rows=[(name, f"{open_:,}") for name, open_ in counts],
        submit=f"Yes, {'resume' if active else 'pause'}",
    )


def _send_test_confirmation(endpoint: PostbackEndpoint, back: str) -> Confirmation:
    state = "" if endpoint.is_active else " The endpoint is paused; the test goes out all the same."
    return Confirmation(
        title="Send a test postback?", back_url=back, submit="Yes, send the test",
        facts=[
            f"Send one test postback to {endpoint.partner.name} · {endpoint.name} now, rendered from a sample event "
            f"({endpoint.method} to {urlsplit(endpoint.url_template).hostname or 'the endpoint'}).{state}",
            "It is a real request to the partner, marked as a test (is_test): it is not counted in statistics, "
            "never retried, and leaves the endpoint's failure run and circuit as they are.",
            "It sends the configuration as saved: edits on the endpoint's page that were not saved are not in it.",
        ],
    )


def _test_summary(attempt, *, with_response: bool = True) -> str:
    """What came of a test postback; ``with_response`` adds the start of the partner's answer (already scrubbed).

    Without it (the admin history), only the outcome and status code: no text the partner or a library wrote.
    """
    if attempt is None:
        return "The test postback could not be sent; see the endpoint's deliveries for the reason."
    took = f"in {attempt.duration_ms or 0} ms."
    if not with_response:
        answer = f"HTTP {attempt.status_code}" if attempt.status_code else (attempt.error_class or "no answer")
        return f"Test postback sent: {attempt.outcome}, {answer} {took}"
    answer = f"HTTP {attempt.status_code}" if attempt.status_code else (attempt.error or "no answer")
    response = f" Response: {attempt.response_excerpt[:200]}" if attempt.response_excerpt else ""
    return f"Test postback sent: {answer} {took}{response}"


@admin.register(Qualification)
class QualificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who qualified, by which rule and events: the record behind each qualified postback."""

    list_display = ["player", "rule", "qualified_at", "event"]
    list_filter = ["rule__partner", "rule"]
    list_select_related = ["rule__partner", "event"]
    search_fields = ["player__player_id"]
    date_hierarchy = "qualified_at"
    fields = ["player", "rule", "qualified_at", "event", "met_by"]
