"""The statistics page in the admin: the numbers in marketing's words, daily charts and a CSV download."""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework.exceptions import ValidationError

from events.currencies import money_text
from events.models import EventType
from partners.models import Partner
from reporting.api import csv_response, with_as_of
from reporting.export_jobs import export_file_path
from reporting.exports import stats_chunks
from reporting.models import ExportJob, Statistics
from reporting.params import stats_query_from_params
from reporting.rollup import stats_as_of
from reporting.selectors import (
    GROUP_BY_FIELDS,
    Cohort,
    StatsQuery,
    StatsRow,
    cohort_conversions,
    reporting_time_zone,
    reporting_today,
    stats_rows,
    stats_totals,
)

from .permissions import PageAdminMixin

# What the page groups by on a first visit: one row per partner reads at a glance.
DEFAULT_GROUP_BY = ("partner",)
UNATTRIBUTED = "(unattributed)"
EVENT_SERIES = ("events", "registrations", "first_deposits", "qualified")
DELIVERY_SERIES = ("deliveries_delivered", "deliveries_failed")
CHART_SERIES = EVENT_SERIES + DELIVERY_SERIES


@dataclass(frozen=True)
class Measure:
    label: str
    definition: str


GROUPS = {
    "day": Measure("Day", "The day the event happened, in the reporting time zone."),
    "partner": Measure("Partner", f"The partner that brought the player; {UNATTRIBUTED}: players no partner brought."),
    "event_type": Measure("Event type", "What the player did, as the platform reported it."),
}
COUNT_MEASURES = {
    "events": Measure("Events", "Everything players did, as the platform reported it."),
    "unique_players": Measure(
        "Players", "Different players behind those events (over several days: exact up to 512, an estimate above)."
    ),
    "registrations": Measure("Registrations", "Players who signed up."),
    "first_deposits": Measure("First deposits", "Players' first deposits: each player counts once, ever."),
    "qualified": Measure("Qualified (CPA)", "Players who met one of their partner's qualification rules."),
    "deliveries_delivered": Measure("Postbacks delivered", "Postbacks the partner accepted."),
    "deliveries_failed": Measure("Postbacks failed", "Postbacks that gave up after their last attempt."),
    "deliveries_pending": Measure("Postbacks waiting", "Postbacks still to be sent or being retried."),
}
CONVERSION = Measure(
    "Conversion",
    "Of the players who registered in the row's days, the share who have made a first deposit so far "
    "(never more than 100 %).",
)


def deposits_measure(currency: str) -> Measure:
    return Measure(f"Deposits {currency}", f"Deposits and first deposits in {currency}, less reversed ones.")


def payouts_measure(currency: str) -> Measure:
    return Measure(f"Payouts {currency}", f"What partners earn in {currency} by their payout rules.")


@admin.register(Statistics)
class StatisticsAdmin(PageAdminMixin, admin.ModelAdmin):
    def page_view(self, request):
        params = request.GET.copy()
        # Check boxes send one value each and nothing when all are cleared;
        # "applied" tells a cleared form (no grouping) from a first visit.
        chosen = request.GET.getlist("group_by") if "applied" in request.GET else DEFAULT_GROUP_BY
        params["group_by"] = ",".join(chosen)
        try:
            query = stats_query_from_params(params)
        except ValidationError as error:
            return self._render(request, params, chosen, errors=error.detail)
        if params.get("download") == "csv":
            chunks = stats_chunks(stats_rows(query), query.group_by, bom=True)
            return with_as_of(csv_response(chunks, filename="stats.csv"))
        return self._render(request, params, chosen, query=query)

    def _render(self, request, params, chosen, *, query: StatsQuery | None = None, errors=None):
        shown_from = query.date_from.isoformat() if query else params.get("from", "")
        shown_to = query.date_to.isoformat() if query else params.get("to", "")
        context = {
            **self.admin_site.each_context(request),
            "title": "Statistics",
            "opts": self.opts,
            "params": params,
            "shown_from": shown_from,
            "shown_to": shown_to,
            "presets": _presets(params, chosen, shown_from, shown_to),
            "errors": errors,
            "group_by_choices": [(name, GROUPS[name].label) for name in GROUP_BY_FIELDS],
            "chosen_group_by": chosen,
            "partners": Partner.objects.values_list("slug", "name"),
            "event_types": EventType.objects.values_list("slug", flat=True),
            "time_zone": reporting_time_zone().key,
            "as_of": stats_as_of(),
        }
        if query is not None:
            context.update(_tables(query))
        return TemplateResponse(request, "admin/reporting/statistics.html", context)


def _presets(params, chosen, shown_from: str, shown_to: str) -> list[dict]:
    """Links to common ranges, keeping the partner, type and grouping chosen."""
    today = reporting_today()
    this_month = today.replace(day=1)
    last_month_end = this_month - dt.timedelta(days=1)
    ranges = [
        ("Today", today, today),
        ("Last 7 days", today - dt.timedelta(days=6), today),
        ("Last 30 days", today - dt.timedelta(days=29), today),
        ("This month", this_month, today),
        ("Last month", last_month_end.replace(day=1), last_month_end),
    ]
    kept = [(name, params[name]) for name in ("partner", "event_type") if params.get(name)]
    kept += [("group_by", name) for name in chosen]
    # Two presets can name the same days (on the 7th, the last 7 days are this month): one link is the current one.
    shown = next((label for label, start, end in ranges
                  if (start.isoformat(), end.isoformat()) == (shown_from, shown_to)), None)
    return [
        {
            "label": label,
            "query": urlencode([("applied", "1"), ("from", start.isoformat()), ("to", end.isoformat()), *kept]),
            "current": label == shown,
        }
        for label, start, end in ranges
    ]


def _tables(query: StatsQuery) -> dict:
    rows = stats_rows(query)
    totals = stats_totals(query)
    names = dict(Partner.objects.values_list("slug", "name"))
    cohorts = cohort_conversions(query)
    # Each player is in exactly one span: the whole range's cohort is the sum of the spans', not another query.
    overall = Cohort(sum(c.registered for c in cohorts.values()), sum(c.deposited for c in cohorts.values()))
    deposit_currencies = _in_use(row.deposit_sum for row in rows)
    payout_currencies = _in_use(row.payout_sum for row in rows)
    columns = [
        *(GROUPS[name] for name in query.group_by),
        *COUNT_MEASURES.values(),
        CONVERSION,
        *(deposits_measure(currency) for currency in deposit_currencies),
        *(payouts_measure(currency) for currency in payout_currencies),
    ]

    def cells(row: StatsRow, cohort: Cohort | None, *, groups: bool) -> list[str]:
        return [
            *(_group_cell(name, getattr(row, name), names) for name in query.group_by if groups),
            *(f"{getattr(row, name):,}" for name in COUNT_MEASURES),
            _percent(cohort),
            *(_money_cell(row.deposit_sum, currency) for currency in deposit_currencies),
            *(_money_cell(row.payout_sum, currency) for currency in payout_currencies),
        ]

    spans = tuple(name for name in query.group_by if name != "event_type")
    return {
        "query": query,
        "columns": columns,
        "glossary": columns,
        "rows": [cells(row, cohorts.get(tuple(getattr(row, name) for name in spans)), groups=True) for row in rows],
        "totals": cells(totals, overall, groups=False) if query.group_by else None,
        "group_columns": len(query.group_by),
        "charts": _daily_charts(query, rows),
    }


def _in_use(sums) -> list[str]:
    """Currencies with something other than zero in at least one row."""
    return sorted({currency for by_currency in sums for currency, amount in by_currency.items() if amount})


def _group_cell(name: str, value, partner_names: dict) -> str:
    if name == "partner":
        return UNATTRIBUTED if value is None else partner_names.get(value, value)
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _money_cell(sums: dict, currency: str) -> str:
    amount = sums.get(currency)
    return money_text(amount, currency) if amount else ""


def _percent(cohort: Cohort | None) -> str:
    share = cohort.share if cohort else None
    if share is None:
        return "—"
    return f"{(share * 100).quantize(Decimal('0.1'))} %"


def _daily_charts(query: StatsQuery, rows: list[StatsRow]) -> dict:
    """One point per day of the range, zero where nothing happened: events and postbacks charted apart.

    The charted measures add up across partners and types, so rows grouped
    by day are summed here instead of being queried again.
    """
    if "day" not in query.group_by:
        rows = stats_rows(replace(query, group_by=("day",)))
    per_day: dict[dt.date, Counter] = defaultdict(Counter)
    for row in rows:
        per_day[row.day].update({name: getattr(row, name) for name in CHART_SERIES})
    days = [query.date_from + dt.timedelta(days=n) for n in range((query.date_to - query.date_from).days + 1)]

    def series(names):
        return [{"label": COUNT_MEASURES[name].label, "values": [per_day[day][name] for day in days]} for name in names]

    return {
        "days": [day.isoformat() for day in days],
        "events": series(EVENT_SERIES),
        "deliveries": series(DELIVERY_SERIES),
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
