"""The statistics page in the admin: the API's numbers, a daily chart and a CSV download."""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import replace

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from rest_framework.exceptions import ValidationError

from events.models import EventType
from partners.models import Partner
from postback_platform.admin_permissions import ReadOnlyAdminMixin

from .api import csv_response, with_as_of
from .csv_export import csv_cell
from .exports import stats_chunks, stats_table
from .models import Statistics
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
