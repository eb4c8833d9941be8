"""Event ingestion and the event status API (thin: parse, call a service or selector, answer)."""

from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminKey
from accounts.viewsets import StatusViewSet
from deliveries.selectors import event_get, events_with_deliveries
from events.filter_params import event_filters
from events.selectors import event_list
from lib.api_errors import Conflict

from . import api_docs
from .erasure import PlayerErasureLimit, PlayerNotFound, player_erase
from .reversals import ReversalError, event_reverse
from .serializers import (
    EventSerializer,
    PlayerErasureSerializer,
    ReversalSerializer,
    ReverseByEventIdInputSerializer,
    ReverseInputSerializer,
    ingested_event_data,
)
from .services import CONFLICT, CREATED, ERROR, INGEST_STATUSES, IngestResult, event_ingest, events_ingest
from .validation import BATCH_BODY


@extend_schema_view(
    list=api_docs.EVENT_LIST,
    retrieve=api_docs.EVENT_RETRIEVE,
    create=api_docs.EVENT_CREATE,
    batch=api_docs.EVENT_BATCH,
    reverse=api_docs.EVENT_REVERSE,
    reverse_by_event_id=api_docs.EVENT_REVERSE_BY_EVENT_ID,
)
class EventViewSet(StatusViewSet):
    serializer_class = EventSerializer

    def create(self, request):
        result = event_ingest(data=request.data)
        if result.status == ERROR:
            raise ValidationError(result.errors)
        if result.status == CONFLICT:
            raise Conflict(result.detail, result.errors)
        # A new event's deliveries were just made; a stored one is read back with its current deliveries.
        if result.deliveries is not None:
            event, deliveries = result.event, result.deliveries
        else:
            event = event_get(pk=result.event.pk)
            deliveries = event.deliveries.all()
        body = ingested_event_data(event, deliveries=deliveries, warnings=result.warnings)
        return Response(body, status=status.HTTP_201_CREATED if result.status == CREATED else status.HTTP_200_OK)

    @action(detail=False, methods=["post"])
    def batch(self, request):
        items = BATCH_BODY.validate(request.data)
        if isinstance(items, dict):
            raise ValidationError(items)
        results = [_batch_item(index, result) for index, result in enumerate(events_ingest(items=items))]
        counts = dict.fromkeys(INGEST_STATUSES, 0)
        for item in results:
            counts[item["status"]] += 1
        return Response({**counts, "results": results})

    @action(detail=True, methods=["post"])
    def reverse(self, request, pk: str):
        event = event_get(pk=int(pk))
        if event is None:
            raise NotFound(f"No event with id {pk}. Reverse by the platform's id with POST /api/v1/events/reverse/.")
        return _reversed(event, _valid(ReverseInputSerializer, request.data)["reason"])

    @action(detail=False, methods=["post"], url_path="reverse")
    def reverse_by_event_id(self, request):
        data = _valid(ReverseByEventIdInputSerializer, request.data)
        event = event_list(event_id=data["event_id"]).first()
        if event is None:
            raise NotFound(f"No event with event_id {data['event_id']!r}.")
        return _reversed(event, data["reason"])

    def list(self, request):
        events = events_with_deliveries(event_list(**event_filters(request.query_params)))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)

    def retrieve(self, request, pk: str):
        event = event_get(pk=int(pk))
        if event is None:
            raise NotFound(f"No event with id {pk}. Look an event up by the platform's id with ?event_id=.")
        return Response(EventSerializer(event).data)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _reversed(event, reason: str) -> Response:
    try:
        reversal = event_reverse(event=event, reason=reason)
    except ReversalError as exc:
        raise ValidationError({"non_field_errors": [str(exc)]}) from exc
    body = ReversalSerializer(event_get(pk=reversal.event.pk), context={"cancelled": reversal.cancelled}).data
    return Response(body, status=status.HTTP_201_CREATED if reversal.created else status.HTTP_200_OK)


class PlayerEraseView(APIView):
    """Erasure of a player's personal values (``ingest.erasure``); admin keys only."""

    permission_classes = [IsAdminKey]

    @api_docs.PLAYER_ERASE
    def post(self, request, player_id: str):
        try:
            erasure = player_erase(player_id=player_id, api_key=request.auth)
        except PlayerNotFound as exc:
            raise NotFound(str(exc)) from None
        except PlayerErasureLimit as exc:
            raise Conflict(str(exc)) from None
        return Response(PlayerErasureSerializer(erasure).data)


def _batch_item(index: int, result: IngestResult) -> dict:
    item = {"index": index, "event_id": result.event_id, "status": result.status}
    if result.event is not None:
        item["id"] = result.event.pk
        item["is_first_deposit"] = result.event.is_first_deposit
    if result.status in (ERROR, CONFLICT):
        item["errors"] = result.errors
    if result.detail:
        item["detail"] = result.detail
    if result.warnings:
        item["warnings"] = result.warnings
    return item

