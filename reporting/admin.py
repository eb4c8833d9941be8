"""The statistics page in the admin: the API's numbers, a daily chart and a CSV download."""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import replace

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework.exceptions import ValidationError

from events.models import EventType
from partners.models import Partner
from postback_platform.admin_permissions import ReadOnlyAdminMixin

from .api import csv_response, with_as_of
from .csv_export import csv_cell
from .export_jobs import export_file_path
from .exports import stats_chunks, stats_table
from .models import ExportJob, Statistics
from .params import stats_query_from_params
from .rollup import stats_as_of
from .selectors import GROUP_BY_FIELDS, StatsQuery, StatsRow, reporting_time_zone, stats_rows, stats_totals

CHART_SERIES = ("events", "registrations", "first_deposits", "qualified", "deliveries_delivered", "deliveries_failed")


@admin.register(Statistics)
class StatisticsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    def get_urls(self):
        # Only the list page exists: there are no rows to add, change or delete.
        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.changelist_view), name="%s_%s_changelist" % info)]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        params = request.GET.copy()
        # Check boxes send one value each and nothing when all are cleared;
        # "applied" tells a cleared form (no grouping) from a first visit.
        chosen = request.GET.getlist("group_by") if "applied" in request.GET else GROUP_BY_FIELDS
        params["group_by"] = ",".join(chosen)
        try:
            query = stats_query_from_params(params)
        except ValidationError as error:
            return self._render(request, params, errors=error.detail)
        if params.get("download") == "csv":
            chunks = stats_chunks(stats_rows(query), query.group_by, bom=True)
            return with_as_of(csv_response(chunks, filename="stats.csv"))
        return self._render(request, params, query=query)

    def _render(self, request, params, *, query: StatsQuery | None = None, errors=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Statistics",
            "opts": self.opts,
            "params": params,
            "shown_from": query.date_from.isoformat() if query else params.get("from", ""),
            "shown_to": query.date_to.isoformat() if query else params.get("to", ""),
            "errors": errors,
            "group_by_choices": GROUP_BY_FIELDS,
            "partners": Partner.objects.values_list("slug", "name"),
            "event_types": EventType.objects.values_list("slug", flat=True),
            "time_zone": reporting_time_zone().key,
            "as_of": stats_as_of(),
        }
        if query is not None:
            context.update(_tables(query))
        return TemplateResponse(request, "admin/reporting/statistics.html", context)


def _tables(query: StatsQuery) -> dict:
    rows = stats_rows(query)
    header, body = stats_table(rows, query.group_by)
    totals_header, (totals,) = stats_table([stats_totals(query)], ())
    by_name = dict(zip(totals_header, map(csv_cell, totals), strict=True))
    return {
        "query": query,
        "header": header,
        "rows": [[csv_cell(value) for value in row] for row in body],
        "totals": [by_name.get(name, "") for name in header] if query.group_by else None,
        "chart": _daily_chart(query, rows),
    }


def _daily_chart(query: StatsQuery, rows: list[StatsRow]) -> dict:
    """One point per day of the range, zero where nothing happened.

    The charted measures add up across partners and types, so rows grouped
    by day are summed here instead of being queried again.
    """
    if "day" not in query.group_by:
        rows = stats_rows(replace(query, group_by=("day",)))
    per_day: dict[dt.date, Counter] = defaultdict(Counter)
    for row in rows:
        per_day[row.day].update({name: getattr(row, name) for name in CHART_SERIES})
    days = [query.date_from + dt.timedelta(days=n) for n in range((query.date_to - query.date_from).days + 1)]
    return {
        "days": [day.isoformat() for day in days],
        "series": {name: [per_day[day][name] for day in days] for name in CHART_SERIES},
    }


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Each person's long exports: progress while a worker writes them, a download when ready.

    Anyone who may export a list sees their own exports here (superusers see everyone's); the rows and
    files are never changed from the admin, and go by themselves after EXPORT_KEEP_HOURS.
    """

    list_display = ["file_name", "state", "rows", "created_at", "download"]
    list_display_links = ["file_name"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        return obj is None or request.user.is_superuser or obj.requested_by_id == request.user.pk

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        jobs = super().get_queryset(request)
        return jobs if request.user.is_superuser else jobs.filter(requested_by=request.user)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/status/", view(self.status_view), name="%s_%s_status" % info),
            path("<int:pk>/download/", view(self.download_view), name="%s_%s_download" % info),
            *super().get_urls(),
        ]

    def _job_or_404(self, request, pk) -> ExportJob:
        job = get_object_or_404(ExportJob, pk=pk)
        if not self.has_view_permission(request, job):
            raise Http404
        return job

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self._job_or_404(request, object_id)
        context = {
            **self.admin_site.each_context(request), "title": f"Export {job.file_name}", "opts": self.opts,
            "job": job, "status": _status(job), "keep_hours": settings.EXPORT_KEEP_HOURS,
        }
        return TemplateResponse(request, "admin/reporting/exportjob/progress.html", context)

    def status_view(self, request, pk):
        return JsonResponse(_status(self._job_or_404(request, pk)))

    def download_view(self, request, pk):
        job = self._job_or_404(request, pk)
        path = export_file_path(job)
        if job.status != ExportJob.Status.DONE or not path.exists():
            raise Http404("This export is not ready, or has been removed; export the list again.")
        response = FileResponse(path.open("rb"), as_attachment=True, filename=job.file_name,
                                content_type="text/csv; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response

    @admin.display(description="State")
    def state(self, job):
        if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
            return format_html('<progress max="100" value="{}"></progress> {} %', job.percent_done, job.percent_done)
        return job.get_status_display()

    @admin.display(description="Rows")
    def rows(self, job):
        total = "?" if job.rows_total is None else f"{job.rows_total:,}"
        return f"{job.rows_done:,} / {total}"

    @admin.display(description="Download")
    def download(self, job):
        if job.status != ExportJob.Status.DONE:
            return "—"
        url = reverse("admin:reporting_exportjob_download", args=[job.pk])
        return format_html('<a href="{}">Download</a>', url)


def _status(job: ExportJob) -> dict:
    """What the progress page shows, and polls for while the export is written."""
    done = job.status == ExportJob.Status.DONE
    return {
        "status": job.status,
        "label": job.get_status_display(),
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "percent": job.percent_done,
        "error": job.error,
        "download_url": reverse("admin:reporting_exportjob_download", args=[job.pk]) if done else "",
    }
