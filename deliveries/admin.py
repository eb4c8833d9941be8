from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from events.models import Event
from partners.models import PostbackEndpoint
from postback_platform.admin_export import CsvExportAdminMixin
from postback_platform.admin_filters import RecentListFilter
from postback_platform.admin_paginator import HugeTableAdminMixin
from postback_platform.admin_permissions import ReadOnlyAdminMixin
from reporting.exports import DELIVERY_COLUMNS

from .models import Delivery, DeliveryAttempt
from .services import DeliveryStateError, deliveries_resend, delivery_cancel, delivery_resend

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


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
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
        line = format_html("<code>{} {}</code>", attempt.request_method, attempt.request_url)
        if not attempt.request_body:
            return line
        return format_html('{}<pre class="console-body">{}</pre>', line, attempt.request_body)


@admin.register(Delivery)
class DeliveryAdmin(CsvExportAdminMixin, HugeTableAdminMixin, admin.ModelAdmin):
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
    # Every filter is served by an index (is_test is not: tests are rare, and an
    # endpoint's page lists its own).
    list_filter = [FailingNowFilter, "status", DeliveryRecentFilter, "partner", EndpointFilter, "event_type"]
    list_select_related = ["partner", "endpoint", "event"]
    search_fields = ["=event__event_id"]  # shows the box; get_search_results does the matching
    search_help_text = "Exact delivery id or event id."
    ordering = ["-created_at"]
    inlines = [DeliveryAttemptInline]
    actions = ["resend", "cancel", "export_csv"]
    csv_columns, csv_filename = DELIVERY_COLUMNS, "deliveries.csv"
    fieldsets = [
        (None, {"fields": ["event_link", "partner", "endpoint", "event_type", "status", "is_test"]}),
        ("Progress", {"fields": [
            "attempt_count", "next_attempt_at", "held_until", "held_reason", "delivered_at", "last_status_code",
            "last_error",
        ]}),
        ("Rendered request", {"fields": ["request_method", "request_url", "request_body"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    @admin.action(description="Resend selected deliveries", permissions=["change"])
    def resend(self, request, queryset):
        selected = queryset.count()
        queued = deliveries_resend(queryset=queryset)
        self.message_user(request, f"Queued {queued} of {selected} selected deliveries to be sent again.")
        if queued < selected:
            self.message_user(
                request,
                f"{selected - queued} were being sent at that moment and were left alone; resend them once they finish.",
                messages.WARNING,
            )

    @admin.action(description="Cancel selected deliveries", permissions=["change"])
    def cancel(self, request, queryset):
        cancelled, refused = 0, []
        for delivery in queryset.iterator():
            try:
                delivery_cancel(delivery=delivery)
                cancelled += 1
            except DeliveryStateError:
                refused.append(delivery)
        self.message_user(request, f"Cancelled {cancelled} deliveries; they stay on record and can be resent.")
        if refused:
            states = ", ".join(sorted({delivery.status for delivery in refused}))
            self.message_user(
                request,
                f"{len(refused)} were not cancelled: only pending or retrying deliveries can be (these were {states}).",
                messages.WARNING,
            )

    def get_urls(self):
        own = [
            path("<int:pk>/resend/", self.admin_site.admin_view(self.resend_view), name="deliveries_delivery_resend"),
            path("<int:pk>/cancel/", self.admin_site.admin_view(self.cancel_view), name="deliveries_delivery_cancel"),
        ]
        return own + super().get_urls()

    def resend_view(self, request, pk):
        return self._state_change(request, pk, delivery_resend, "Queued to be sent again.")

    def cancel_view(self, request, pk):
        return self._state_change(request, pk, delivery_cancel, "Cancelled; it stays on record and can be resent.")

    def _state_change(self, request, pk, service, done: str):
        delivery = get_object_or_404(Delivery, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, delivery):
            raise PermissionDenied
        try:
            service(delivery=delivery)
            self.message_user(request, f"Delivery {delivery.pk}: {done}")
        except DeliveryStateError as exc:
            self.message_user(request, f"Delivery {delivery.pk}: {exc}", messages.ERROR)
        return redirect("admin:deliveries_delivery_change", delivery.pk)

    def get_search_results(self, request, queryset, search_term):
        # An OR across a join would scan, and the admin's "=field" compares UPPER()
        # of both sides; a sub-select on the unique event_id and the primary key
        # are both single index look-ups.
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
        if delivery.status in Delivery.OPEN_STATUSES and delivery.held_until and delivery.held_until > timezone.now():
            label = f"{label} · on hold until {timezone.localtime(delivery.held_until):%Y-%m-%d %H:%M:%S %Z}"
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
