"""The configuration API: partners, their postback endpoints and payout rules (admin keys only).

Thin: validate with a serializer, write through ``partners.services``,
answer. Partners and endpoints are paused (``is_active: false``) rather
than deleted, so delivery history is never lost with them.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from deliveries.serializers import DeliveryAttemptSerializer
from deliveries.services import endpoint_send_test, template_preview
from events.models import Event
from lib.api_docs import NOT_FOUND, common_errors, invalid
from lib.pagination import NewestFirstCursorPagination
from .templating import TemplateError

from . import api_docs
from .models import Partner, PayoutRule, PostbackEndpoint, QualificationRule
from .serializers import (
    EndpointSerializer,
    PartnerSerializer,
    PayoutRuleSerializer,
    PreviewSerializer,
    QualificationRuleSerializer,
    RenderedRequestSerializer,
    TestPostbackSerializer,
)
from .services import (
    RuleInUseError,
    endpoint_save,
    partner_save,
    payout_rule_save,
    qualification_rule_delete,
    qualification_rule_save,
)

_READ_WRITE = ["get", "post", "put", "patch", "head", "options"]


@extend_schema_view(**api_docs.PARTNER_VIEWS)
class PartnerViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Partner.objects.all()
    serializer_class = PartnerSerializer
    pagination_class = NewestFirstCursorPagination
    lookup_field = "slug"
    http_method_names = _READ_WRITE

    def perform_create(self, serializer):
        serializer.instance = partner_save(partner=Partner(), fields=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = partner_save(partner=serializer.instance, fields=serializer.validated_data)


class _PartnerChildViewSet(viewsets.GenericViewSet):
    """Objects under ``/partners/{slug}/``; an unknown slug is a clear 404."""

    pagination_class = NewestFirstCursorPagination

    def partner(self) -> Partner:
        if not hasattr(self, "_partner"):
            self._partner = Partner.objects.filter(slug=self.kwargs["partner_slug"]).first()
            if self._partner is None:
                raise NotFound(f"No partner with slug {self.kwargs['partner_slug']!r}; list them at /api/v1/partners/.")
        return self._partner

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "partner": self.partner()}


@extend_schema_view(
    **api_docs.ENDPOINT_VIEWS,
    preview=extend_schema(
        summary="Render the endpoint's request without sending it",
        description="For a stored event (`event`) or a sample one; unsaved template changes may be given to try them "
        "first. The signature header is masked.",
        request=PreviewSerializer,
        responses={200: RenderedRequestSerializer, 400: api_docs.INVALID_ENDPOINT, 404: NOT_FOUND, **common_errors()},
    ),
    test=extend_schema(
        summary="Send a test postback now",
        description="Sends a sample event to the endpoint, paused or not, and answers with the attempt. Test events "
        "are kept out of statistics and are not retried.",
        request=TestPostbackSerializer,
        responses={200: DeliveryAttemptSerializer, 400: invalid({"event_type": ["Object with slug=x does not exist."]}),
                   404: NOT_FOUND, **common_errors()},
    ),
)
class EndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    _PartnerChildViewSet,
):
    serializer_class = EndpointSerializer
    http_method_names = _READ_WRITE
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self):
        return PostbackEndpoint.objects.filter(partner=self.partner()).prefetch_related("event_types")

    def perform_create(self, serializer):
        endpoint = PostbackEndpoint(partner=self.partner())
        serializer.instance = endpoint_save(endpoint=endpoint, **serializer.save_kwargs())

    def perform_update(self, serializer):
        serializer.instance = endpoint_save(endpoint=serializer.instance, **serializer.save_kwargs())

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


@extend_schema_view(**api_docs.PAYOUT_VIEWS)
class PayoutRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, _PartnerChildViewSet,
):
    serializer_class = PayoutRuleSerializer
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self):
        return PayoutRule.objects.filter(partner=self.partner())

    def perform_create(self, serializer):
        rule = PayoutRule(partner=self.partner())
        serializer.instance = payout_rule_save(rule=rule, fields=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = payout_rule_save(rule=serializer.instance, fields=serializer.validated_data)


@extend_schema_view(**api_docs.QUALIFICATION_VIEWS)
class QualificationRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, _PartnerChildViewSet,
):
    serializer_class = QualificationRuleSerializer
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self):
        return QualificationRule.objects.filter(partner=self.partner())

    def perform_create(self, serializer):
        rule = QualificationRule(partner=self.partner())
        serializer.instance = qualification_rule_save(rule=rule, fields=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = qualification_rule_save(rule=serializer.instance, fields=serializer.validated_data)

    def perform_destroy(self, instance):
        try:
            qualification_rule_delete(rule=instance)
        except RuleInUseError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
