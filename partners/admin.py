from datetime import timedelta

from django.contrib import admin
from django.db.models import OuterRef
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html

from deliveries import dashboard_selectors as delivery_reads
from deliveries import templating
from deliveries.models import Delivery
from events import dashboard_selectors as event_reads
from postback_platform.subqueries import count_subquery

from .models import Partner, PayoutRule, PostbackEndpoint

ACTIVITY_WINDOW = timedelta(hours=24)
_MACRO_MEANINGS = {
    "click_id": "the click id the player was attributed with",
    "event_type": "registration, deposit, first_deposit …",
    "event_id": "the platform's event id",
    "player_id": "the platform's player id",
    "partner": "this partner's slug",
    "amount": "the event's amount, e.g. 25.00",
    "currency": "ISO 4217 code, e.g. EUR",
    "payout": "what the partner's payout rule gives for this event",
    "occurred_at": "when it happened, ISO 8601 (UTC)",
    "timestamp": "when it happened, Unix seconds",
    "delivery_id": "this delivery's id (also the webhook-id header)",
}
MACRO_REFERENCE = [(f"{{{name}}}", _MACRO_MEANINGS.get(name, "")) for name in templating.MACROS] + [
    ("{params.NAME}", "any value the platform sent in params, e.g. {params.sub1}")
]


class PostbackEndpointInline(admin.TabularInline):
    model = PostbackEndpoint
    extra = 0
    fields = ["name", "method", "url_template", "is_active", "paused_at"]
    readonly_fields = ["paused_at"]
    show_change_link = True


class PayoutRuleInline(admin.TabularInline):
    model = PayoutRule
    extra = 0


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "scope", "state", "events_24h", "success_rate_24h", "last_error_24h"]
    list_filter = ["is_active", "scope"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PostbackEndpointInline, PayoutRuleInline]

    def get_queryset(self, request):
        # Per-row subqueries walk the (partner, …) indexes for the rows on the page only.
        since = timezone.now() - ACTIVITY_WINDOW
        return (
            super()
            .get_queryset(request)
            .annotate(
                events_24h=event_reads.events_since_for_partner(since=since),
                delivered_24h=delivery_reads.deliveries_since_for_partner(
                    since=since, status=Delivery.Status.DELIVERED
                ),
                failed_24h=delivery_reads.deliveries_since_for_partner(since=since, status=Delivery.Status.FAILED),
                last_error_24h=delivery_reads.last_error_since_for_partner(since=since),
                endpoints_held=count_subquery(
                    PostbackEndpoint.objects.filter(partner=OuterRef("pk"), is_active=False), outer_field="partner"
                ),
            )
        )

    @admin.display(description="State", ordering="is_active")
    def state(self, partner):
        if not partner.is_active:
            return format_html('<strong class="console-bad">Paused</strong>')
        if partner.endpoints_held:
            return f"Active · {partner.endpoints_held} endpoint(s) paused"
        return "Active"

    @admin.display(description="Events (24 h)", ordering="events_24h")
    def events_24h(self, partner):
        return partner.events_24h

    @admin.display(description="Delivered (24 h)")
    def success_rate_24h(self, partner):
        finished = partner.delivered_24h + partner.failed_24h
        if not finished:
            return "—"
        rate = 100 * partner.delivered_24h / finished
        css = "console-good" if rate >= 95 else "console-bad"
        return format_html('<span class="{}">{}%</span> of {}', css, f"{rate:.1f}", finished)

    @admin.display(description="Last error (24 h)")
    def last_error_24h(self, partner):
        return (partner.last_error_24h or "—")[:120]


@admin.register(PostbackEndpoint)
class PostbackEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "method", "state", "consecutive_failures", "updated_at"]
    list_filter = ["is_active", "method", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "partner__name", "partner__slug"]
    autocomplete_fields = ["partner"]
    filter_horizontal = ["event_types"]
    readonly_fields = ["macro_reference", "consecutive_failures", "paused_at", "pause_reason"]
    fieldsets = [
        (None, {"fields": ["partner", "name", "event_types", "is_active"]}),
        (
            "Request",
            {
                "fields": ["method", ("url_template", "macro_reference"), "body_format", "body_template", "headers"],
                "description": "Macros are replaced by the event's values, escaped for where they land.",
            },
        ),
        ("Matching", {"fields": ["filters"]}),
        (
            "Reliability",
            {
                "fields": [
                    "timeout_seconds",
                    "max_attempts",
                    "success_body_contains",
                    "rate_limit_per_second",
                    "auto_pause_after",
                    "consecutive_failures",
                    "paused_at",
                    "pause_reason",
                ]
            },
        ),
    ]

    @admin.display(description="State", ordering="is_active")
    def state(self, endpoint):
        if endpoint.is_active:
            return "Active"
        reason = f": {endpoint.pause_reason}" if endpoint.pause_reason else ""
        return format_html('<strong class="console-bad">Paused</strong>{}', reason)

    @admin.display(description="Macros")
    def macro_reference(self, endpoint):
        return render_to_string("admin/partners/macro_reference.html", {"macros": MACRO_REFERENCE})
