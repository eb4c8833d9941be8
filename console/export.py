"""CSV export from the admin's changelists, in the same format as the API's exports."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import redirect
from django.urls import path

from reporting.api import csv_response
from reporting.export_jobs import export_file_name
from reporting.exports import table_chunks
from reporting.tasks import export_job_request


class CsvExportAdminMixin:
    """An "Export as CSV" action and buttons that export the list as filtered (plain, or for Excel).

    Subclasses set ``csv_columns`` (``reporting.exports`` column lists) and
    ``csv_filename`` (the stem of the download's name, which adds the filters
    and the date). Exporting needs only the view permission: marketing exports.
    A list longer than ``EXPORT_INLINE_ROWS`` is written in the background
    (``reporting.export_jobs``) and its page shows the progress; so is a
    selection that long ("select all" across the pages of a long list).
    """

    csv_columns: tuple
    csv_filename: str
    actions = ["export_csv"]
    change_list_template = "admin/console_change_list.html"

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        """The rows ticked: streamed, or a background job when "select all" took more than EXPORT_INLINE_ROWS.

        Rows ticked one by one are at most a page. "Select all" selects every row of the list under its
        filters and search (the query string), which is what the job opens again.
        """
        name = export_file_name(f"{self.csv_filename}-selected", request.GET)
        across = forms.BooleanField(required=False).clean(request.POST.get("select_across"))
        if not across or not self._long(queryset):
            return self._csv(queryset, name, bom=False)
        return self._job(request, request.GET.copy(), name, bom=False)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        export = path("export.csv", self.admin_site.admin_view(self.export_filtered_view), name="%s_%s_export" % info)
        return [export, *super().get_urls()]

    def export_filtered_view(self, request):
        """Every row the changelist shows under its current filters and search: streamed, or a background job."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.GET = request.GET.copy()
        bom = request.GET.pop("bom", ["0"])[-1] == "1"  # not a filter: the changelist must not see it
        name = export_file_name(self.csv_filename, request.GET)
        queryset = self.get_changelist_instance(request).get_queryset(request)
        if not self._long(queryset):
            return self._csv(queryset, name, bom=bom)
        return self._job(request, request.GET, name, bom=bom)

    def _long(self, queryset: QuerySet) -> bool:
        return queryset[settings.EXPORT_INLINE_ROWS : settings.EXPORT_INLINE_ROWS + 1].exists()

    def _job(self, request, params, name: str, *, bom: bool):
        job = export_job_request(
            user=request.user, model_label=self.opts.label_lower, params=params, file_name=name, bom=bom
        )
        return redirect("admin:reporting_exportjob_change", job.pk)

    def _csv(self, queryset: QuerySet, name: str, *, bom: bool):
        return csv_response(table_chunks(queryset, self.csv_columns, bom=bom), filename=name)
