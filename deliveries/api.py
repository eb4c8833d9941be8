"""The delivery status API: lists and details of deliveries with their attempts; and trying an endpoint.

A ViewSet, so actions on one delivery (resend) sit beside the reads. Rendering
an endpoint's request and sending it a test postback go through the sender,
so they are served here, under the endpoint's path.
"""

from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from accounts.permissions import IsAdminKey, is_admin_key
from accounts.viewsets import StatusViewSet
from events.models import Event
from lib.api_errors import Conflict
from partners.api import PartnerEndpointViewSet
from partners.serializers import PreviewSerializer, RenderedRequestSerializer, TestPostbackSerializer
from partners.templating import TemplateError

from . import api_docs
from .filter_params import delivery_filters
from .selectors import delivery_get, delivery_list
from .serializers import DeliveryAttemptSerializer, DeliveryDetailSerializer, DeliverySerializer
from .services import DeliveryStateError, deliveries_resend, delivery_resend, endpoint_send_test, template_preview


@extend_schema_view(
    list=api_docs.DELIVERY_LIST,
    retrieve=api_docs.DELIVERY_RETRIEVE,
    resend=api_docs.DELIVERY_RESEND,
    resend_many=api_docs.DELIVERY_RESEND_MANY,
)
class DeliveryViewSet(StatusViewSet):
    serializer_class = DeliverySerializer

    def list(self, request):
        page = self.paginate_queryset(delivery_list(**delivery_filters(request.query_params)))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    def retrieve(self, request, pk: str):
        delivery = delivery_get(pk=int(pk))
        if delivery is None:
            raise NotFound(f"No delivery with id {pk}. An event's deliveries are listed at /api/v1/events/{{id}}/.")
        return Response(_detail(request, delivery))

    @action(detail=True, methods=["post"], permission_classes=[IsAdminKey])
    def resend(self, request, pk: str):
        delivery = delivery_get(pk=int(pk))
        if delivery is None:
            raise NotFound(f"No delivery with id {pk}.")
        try:
            delivery_resend(delivery=delivery)
        except DeliveryStateError as exc:
            raise Conflict(str(exc)) from None
        return Response(_detail(request, delivery_get(pk=delivery.pk)), status=status.HTTP_202_ACCEPTED)

    @action(detail=False, methods=["post"], url_path="resend", permission_classes=[IsAdminKey])
    def resend_many(self, request):
        """Resend every delivery matching the filters of the list (status, partner, endpoint, event_type, from, to)."""
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send an object of filters, e.g. {\"status\": \"failed\"}."]})
        filters = delivery_filters(_filter_values(request.data))
        if all(value is None for value in filters.values()):
            raise ValidationError(
                {"non_field_errors": ["Give at least one filter (status, partner, endpoint, event_type, from, to)."]}
            )
        resent = deliveries_resend(queryset=delivery_list(**filters))
        return Response({"resent": resent}, status=status.HTTP_202_ACCEPTED)


def _filter_values(data: dict) -> dict[str, str]:
    """The body's filters as the list's query string would give them; a value of another JSON type than the
    filter's (text; a whole number or its digits for endpoint) is refused rather than read as its Python spelling."""
    wrong = [name for name, value in data.items() if value is not None and not _filter_type_fits(name, value)]
    if wrong:
        raise ValidationError({name: ["Send text, or a whole number for endpoint."] for name in wrong})
    return {name: str(value) for name, value in data.items() if value is not None}


def _filter_type_fits(name: str, value) -> bool:
    if name == "endpoint" and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str)


def _detail(request, delivery) -> dict:
    return DeliveryDetailSerializer(delivery, context={"show_partner_exchange": is_admin_key(request)}).data


@extend_schema_view(preview=api_docs.ENDPOINT_PREVIEW, test=api_docs.ENDPOINT_TEST)
class EndpointTryViewSet(PartnerEndpointViewSet):
    """Trying an endpoint: its request rendered, or a test postback sent."""

    @action(detail=True, methods=["post"])
    def preview(self, request, partner_slug: str, pk: str):
        endpoint = self.get_object()
        body = PreviewSerializer(data=request.data, context={"endpoint": endpoint})
        body.is_valid(raise_exception=True)
        changes = {name: value for name, value in body.validated_data.items() if name != "event"}
        for name, value in changes.items():
            setattr(endpoint, name, value)  # never saved: a preview of what the changes would send
        event = None
        if "event" in body.validated_data:
            event = Event.objects.select_related("player").filter(pk=body.validated_data["event"]).first()
            if event is None:
                # A 404 would say the endpoint is missing; what is wrong is a field of the body.
                raise ValidationError({"event": [f"No event with id {body.validated_data['event']}; send the id "
                                                 "of a stored event, or leave it out for a sample."]})
        try:
            rendered = template_preview(endpoint=endpoint, event=event)
        except TemplateError as exc:
            # A value of this event that the template cannot carry (a path segment of ".."): the sender refuses it too.
            raise ValidationError({"event": [f"This event cannot be sent to the endpoint: {exc}"]}) from None
        return Response(RenderedRequestSerializer(rendered).data)

    @action(detail=True, methods=["post"])
    def test(self, request, partner_slug: str, pk: str):
        endpoint = self.get_object()
        body = TestPostbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event_type = body.validated_data.get("event_type")
        attempt = endpoint_send_test(endpoint=endpoint, event_type=event_type.slug if event_type else None)
        # An admin-key route: the caller configured this partner and sees its answer.
        shown = DeliveryAttemptSerializer(attempt, context={"show_partner_exchange": True})
        return Response(shown.data, status=status.HTTP_200_OK)
