from django.contrib import admin

from monitoring.models import Alert

from .permissions import ReadOnlyAdminMixin


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Alerts are opened and resolved by the rules alone; here they are read."""

    list_display = (
        "opened_at", "kind", "summary", "partner", "resolved_at", "opened_notified_at", "notification_error",
    )
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter), "opened_at")
    list_select_related = ("partner",)
    search_fields = ("summary", "key")
    date_hierarchy = "opened_at"
