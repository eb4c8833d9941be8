from django.contrib import admin

from .models import Event, EventType, Player


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "requires_amount", "is_builtin"]

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_builtin


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ["player_id", "partner", "click_id", "registered_at", "first_deposit_at"]
    list_select_related = ["partner"]
    search_fields = ["=player_id", "=click_id"]
    raw_id_fields = ["partner"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "player", "partner", "amount", "currency", "occurred_at"]
    list_filter = ["type"]
    list_select_related = ["partner"]
    search_fields = ["=event_id", "=player__player_id", "=click_id"]
    raw_id_fields = ["player", "partner"]
    date_hierarchy = "occurred_at"
