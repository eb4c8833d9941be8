from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from deliveries.models import Delivery
from postback_platform.admin_export import CsvExportAdminMixin
from postback_platform.admin_filters import RecentListFilter
from postback_platform.admin_paginator import HugeTableAdminMixin
from reporting.exports import EVENT_COLUMNS

from .models import Event, EventType, Player


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "requires_amount", "is_builtin"]

    def has_delete_permission(self, request, obj=None):
        # Built-in types are never deleted; custom ones only with the delete permission.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_builtin)


@admin.register(Player)
class PlayerAdmin(HugeTableAdminMixin, admin.ModelAdmin):
    list_display = ["player_id", "partner", "click_id", "registered_at", "first_deposit_at"]
    list_select_related = ["partner"]
    # Exact matches only: the player id is the primary key.
    search_fields = ["=player_id"]
    search_help_text = "Exact player id."
    list_filter = ["partner"]
    raw_id_fields = ["partner"]


class EventRecentFilter(RecentListFilter):
    title = "occurred"
    field_name = "occurred_at"


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["partner", "endpoint", "event_type", "status", "attempt_count", "last_status_code", "last_error"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "endpoint__partner")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(CsvExportAdminMixin, HugeTableAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "player_link", "partner", "amount", "currency", "occurred_at", "is_test"]
    list_filter = [EventRecentFilter, "type", "partner", "is_test"]
    list_select_related = ["partner"]
    # Exact matches on indexed columns; a substring search would scan the whole table.
    search_fields = ["=event_id", "=player__player_id", "=click_id"]
    search_help_text = "Exact event id, player id or click id."
    ordering = ["-occurred_at"]
    inlines = [DeliveryInline]
    csv_columns, csv_filename = EVENT_COLUMNS, "events.csv"

    @admin.display(description="Player", ordering="player")
    def player_link(self, event):
        url = reverse("admin:events_player_change", args=[event.player_id])
        return format_html('<a href="{}">{}</a>', url, event.player_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
