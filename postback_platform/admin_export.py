"""CSV export from the admin's changelists, in the same format as the API's exports."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.urls import path

from reporting.api import csv_response
from reporting.exports import table_chunks


class CsvExportAdminMixin:
    """An "Export as CSV" action and a button that exports the list as filtered.

    Subclasses set ``csv_columns`` (``reporting.exports`` column lists) and
    ``csv_filename``. Exporting needs only the view permission: marketing exports.
    """

    csv_columns: tuple
    csv_filename: str
    actions = ["export_csv"]
    change_list_template = "admin/console_change_list.html"

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return self._csv(queryset)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        export = path("export.csv", self.admin_site.admin_view(self.export_filtered_view), name="%s_%s_export" % info)
        return [export, *super().get_urls()]

    def export_filtered_view(self, request):
        """Every row the changelist shows under its current filters and search, streamed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return self._csv(changelist.get_queryset(request))

    def _csv(self, queryset: QuerySet):
        return csv_response(table_chunks(queryset, self.csv_columns), filename=self.csv_filename)
