from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from events.models import Event
from partners.models import PostbackEndpoint
from postback_platform.admin_filters import RecentListFilter
from postback_platform.admin_paginator import HugeTableAdminMixin

from .models import Delivery, DeliveryAttempt

FAILING_WINDOW = timedelta(hours=24)


class DeliveryRecentFilter(RecentListFilter):
    title = "created"
    field_name = "created_at"


class FailingNowFilter(admin.SimpleListFilter):
    """What a manager on call asks first: which postbacks are not getting through right now."""

    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("failing", "Failing now"), ("due", "Due now")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "failing":
            # Both branches are ranges on the (status, created_at) index.
            return queryset.filter(
                Q(status=Delivery.Status.RETRYING)
                | Q(status=Delivery.Status.FAILED, created_at__gte=now - FAILING_WINDOW)
            )
        if self.value() == "due":
            # The scheduler's own partial index.
            return queryset.filter(status__in=Delivery.OPEN_STATUSES, next_attempt_at__lte=now)
        return queryset


class EndpointFilter(admin.SimpleListFilter):
    """Endpoints named with their partner, loaded in one query (the default filter asks per endpoint)."""

    title = "endpoint"
    parameter_name = "endpoint__id__exact"

    def lookups(self, request, model_admin):
        endpoints = PostbackEndpoint.objects.select_related("partner").order_by("partner__name", "name")
        return [(str(endpoint.pk), str(endpoint)) for endpoint in endpoints]

    def queryset(self, request, queryset):
        return queryset.filter(endpoint_id=self.value()) if self.value() else queryset


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = [
        "number",
        "outcome",
        "started_at",
        "duration_ms",
        "request_line",
        "status_code",
        "response_excerpt",
        "error",
    ]
    readonly_fields = fields
    ordering = ["-number"]

    @admin.display(description="Request")
    def request_line(self, attempt):
        body = f"\n{attempt.request_body}" if attempt.request_body else ""
        return format_html("<code>{} {}</code>{}", attempt.request_method, attempt.request_url, body)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(HugeTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "status_badge",
        "partner",
        "endpoint_name",
        "event_type_slug",
        "event_link",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
        "is_test",
    ]
    list_filter = [FailingNowFilter, "status", DeliveryRecentFilter, "partner", EndpointFilter, "event_type", "is_test"]
    list_select_related = ["partner", "endpoint", "event"]
    search_fields = ["=event__event_id"]  # shows the box; get_search_results does the matching
    search_help_text = "Exact delivery id or event id."
    ordering = ["-created_at"]
    inlines = [DeliveryAttemptInline]
    fieldsets = [
        (None, {"fields": ["event_link", "partner", "endpoint", "event_type", "status", "is_test"]}),
        ("Progress", {"fields": ["attempt_count", "next_attempt_at", "delivered_at", "last_status_code", "last_error"]}),
        ("Rendered request", {"fields": ["request_method", "request_url", "request_body"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    def get_search_results(self, request, queryset, search_term):
        # An OR across a join would scan; a sub-select on the unique event_id and
        # the primary key are both single index look-ups.
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(event__in=Event.objects.filter(event_id=term).values("pk"))
        if term.isdigit():
            matches |= Q(pk=int(term))
        return queryset.filter(matches), False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, delivery):
        label = delivery.get_status_display()
        return format_html('<span class="console-status console-status-{}">{}</span>', delivery.status, label)

    @admin.display(description="Endpoint", ordering="endpoint")
    def endpoint_name(self, delivery):
        return delivery.endpoint.name

    @admin.display(description="Event type", ordering="event_type")
    def event_type_slug(self, delivery):
        return delivery.event_type_id

    @admin.display(description="Event")
    def event_link(self, delivery):
        url = reverse("admin:events_event_change", args=[delivery.event_id])
        return format_html('<a href="{}">{}</a>', url, delivery.event.event_id)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def render_change_form(self, request, context, *args, **kwargs):
        # Every field is history; a delivery changes only through resend / cancel.
        context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, *args, **kwargs)
