"""The storage page: the monthly partitions of events, deliveries and attempts, and what retention drops next."""

from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse

from ingest.models import EventIdRelease, Storage
from ingest.retention import retention_limits, retention_plan
from lib.partitioning import is_partitioned, partitions_list

from .permissions import PageAdminMixin

TABLE_LABELS = {
    "events_event": "Events", "deliveries_delivery": "Deliveries", "deliveries_deliveryattempt": "Delivery attempts",
}


@admin.register(Storage)
class StorageAdmin(PageAdminMixin, admin.ModelAdmin):
    def page_view(self, request):
        partitioned = is_partitioned()
        partitions = partitions_list() if partitioned else []
        context = {
            **self.admin_site.each_context(request),
            "title": "Storage",
            "opts": self.opts,
            "partitioned": partitioned,
            "tables": [
                {"label": label, "partitions": [item for item in partitions if item.table == table],
                 "bytes": sum(item.bytes for item in partitions if item.table == table)}
                for table, label in TABLE_LABELS.items()
            ],
            "limits": [
                (label, days) for label, days in zip(("Events", "Deliveries", "Attempts"), retention_limits().values(),
                                                     strict=True)
            ],
            "archive_dir": settings.RETENTION_ARCHIVE_DIR,
            "plan": retention_plan() if partitioned else [],
            "releases": list(EventIdRelease.objects.order_by("started_at")),
        }
        return TemplateResponse(request, "admin/ingest/storage.html", context)
