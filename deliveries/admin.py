from django.contrib import admin

from .models import Delivery, DeliveryAttempt


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "outcome", "started_at", "duration_ms", "status_code", "error", "response_excerpt"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "partner", "endpoint", "event_type", "attempt_count", "next_attempt_at"]
    list_filter = ["status", "is_test"]
    list_select_related = ["partner", "endpoint"]
    raw_id_fields = ["event", "endpoint", "partner"]
    inlines = [DeliveryAttemptInline]
