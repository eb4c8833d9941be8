"""Statistics and CSV exports over the REST API; readable with platform and admin keys."""

from collections.abc import Callable, Iterator, Mapping

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPlatformOrAdminKey
from deliveries.api_docs import DELIVERY_FILTERS
from events.api_docs import EVENT_FILTERS
from lib.api_docs import DATE, common_errors, invalid

from .exports import (
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    deliveries_matching,
    events_matching,
    stats_chunks,
    table_chunks,
)
from .params import stats_query_from_params
from .rollup import stats_as_of
from .selectors import GROUP_BY_FIELDS, StatsQuery, stats_rows, stats_totals
from .serializers import StatsRowSerializer

_DAY = {"type": "string", "pattern": rf"^$|^{DATE}$"}
_GROUP = f"(?:{'|'.join(GROUP_BY_FIELDS)})"
STATS_PARAMETERS = [
    OpenApiParameter(
        "from", _DAY, description="First day (inclusive), reporting time zone; default 'to' - 29 days."
    ),
    OpenApiParameter("to", _DAY, description="Last day (inclusive); default today."),
    OpenApiParameter("partner", str, description="Partner slug."),
    OpenApiParameter("event_type", str, description="Event type slug."),
    OpenApiParameter(
        "group_by", {"type": "string", "pattern": rf"^ *(?:{_GROUP} *)?(?:, *(?:{_GROUP} *)?)*$"},
        description="Comma-separated subset of day,partner,event_type; default all three.",
    ),
]


def _unpaged(parameters: list[OpenApiParameter]) -> list[OpenApiParameter]:
    """The list's filters without its page size: an export is never paged."""
    return [parameter for parameter in parameters if parameter.name != "page_size"]


AS_OF_HEADER = "X-Stats-As-Of"
AS_OF_PARAMETER = OpenApiParameter(
    AS_OF_HEADER, {"type": "string", "anyOf": [{"format": "date-time"}, {"maxLength": 0}]},
    location=OpenApiParameter.HEADER, response=True,
    description="Every change committed before this time is counted (the statistics' roll-up); empty until built.",
)
BOM_PARAMETER = OpenApiParameter("bom", {"type": "string", "enum": ["", "0", "1", "false", "true", "no", "yes"]},
                                 description="1 to start the file with a UTF-8 byte-order mark (Excel).")
CSV_RESPONSE = {
    (200, "text/csv"): OpenApiTypes.STR,
    400: invalid({"from": ["'soon' is not a date …"]}),
    **common_errors(),
}

StatsResponse = inline_serializer(
    name="Stats",
    fields={
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "time_zone": serializers.CharField(),
        "group_by": serializers.ListField(child=serializers.CharField()),
        "as_of": serializers.DateTimeField(
            allow_null=True,
            help_text="The figures come from a daily roll-up refreshed every minute: every change committed before "
            "this time is counted; null until the roll-up has been built.",
        ),
        "results": StatsRowSerializer(many=True),
        "totals": StatsRowSerializer(),
    },
)


class ReportingView(APIView):
    permission_classes = [IsPlatformOrAdminKey]

    def perform_content_negotiation(self, request, force=False):
        # A client that asks for text/csv still gets JSON error bodies (400, 401) rather than a 406.
        return super().perform_content_negotiation(request, force=True)


class StatsView(ReportingView):
    @extend_schema(
        parameters=STATS_PARAMETERS,
        responses={200: StatsResponse, 400: invalid({"group_by": ["unknown 'country' …"]}), **common_errors()},
        tags=["statistics"],
    )
    def get(self, request):
        """Events, players, deposits, payouts and delivery outcomes per day × partner × event type."""
        query = stats_query_from_params(request.query_params)
        return Response(stats_payload(query))


class StatsCsvView(ReportingView):
    @extend_schema(parameters=[*STATS_PARAMETERS, BOM_PARAMETER, AS_OF_PARAMETER], responses=CSV_RESPONSE,
                   tags=["exports"])
    def get(self, request):
        """The statistics as CSV, one row per group (columns in docs/admin.md)."""
        query = stats_query_from_params(request.query_params)
        chunks = stats_chunks(stats_rows(query), query.group_by, bom=bom_requested(request.query_params))
        return with_as_of(csv_response(chunks, filename="stats.csv"))


class TableCsvView(ReportingView):
    """A list's rows, under the list's own filters, streamed as CSV."""

    columns: tuple
    filename: str
    matching: Callable[[Mapping[str, str]], QuerySet]

    def get(self, request):
        rows = self.matching(request.query_params)
        chunks = table_chunks(rows, self.columns, bom=bom_requested(request.query_params))
        return csv_response(chunks, filename=self.filename)


@extend_schema_view(get=extend_schema(
    summary="Export events as CSV",
    description="Every event matching the event list's filters, oldest first (columns in docs/admin.md).",
    parameters=[*_unpaged(EVENT_FILTERS), BOM_PARAMETER], responses=CSV_RESPONSE, tags=["exports"],
))
class EventsCsvView(TableCsvView):
    columns, filename = EVENT_COLUMNS, "events.csv"
    matching = staticmethod(events_matching)


@extend_schema_view(get=extend_schema(
    summary="Export deliveries as CSV",
    description="Every delivery matching the delivery list's filters, oldest first (columns in docs/admin.md).",
    parameters=[*_unpaged(DELIVERY_FILTERS), BOM_PARAMETER], responses=CSV_RESPONSE, tags=["exports"],
))
class DeliveriesCsvView(TableCsvView):
    columns, filename = DELIVERY_COLUMNS, "deliveries.csv"
    matching = staticmethod(deliveries_matching)


def stats_payload(query: StatsQuery) -> dict:
    context = {"group_by": query.group_by}
    return {
        "from": query.date_from.isoformat(),
        "to": query.date_to.isoformat(),
        "time_zone": settings.REPORTING_TIME_ZONE,
        "group_by": list(query.group_by),
        "as_of": _iso(stats_as_of()),
        "results": StatsRowSerializer(stats_rows(query), many=True, context=context).data,
        "totals": StatsRowSerializer(stats_totals(query), context={"group_by": ()}).data,
    }


def with_as_of(response: StreamingHttpResponse) -> StreamingHttpResponse:
    """The CSV's ``as_of``, in a header so the file's columns stay as they are."""
    response[AS_OF_HEADER] = _iso(stats_as_of()) or ""
    return response


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def bom_requested(params) -> bool:
    raw = (params.get("bom") or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ValidationError({"bom": [f"{raw!r} is not a yes/no value; use bom=1 or bom=0."]})


def csv_response(chunks: Iterator[str], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
