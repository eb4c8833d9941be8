"""The configuration API: partners, their postback endpoints and payout rules (admin keys only).

Thin: validate with a serializer, write through ``partners.services``,
answer. Partners and endpoints are paused (``is_active: false``) rather
than deleted, so delivery history is never lost with them.
"""

from drf_spectacular.utils import extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound, ValidationError

from lib.pagination import NewestFirstCursorPagination

from . import api_docs
from .models import Partner, PayoutRule, PostbackEndpoint, QualificationRule
from .serializers import (
    EndpointSerializer,
    PartnerSerializer,
    PayoutRuleSerializer,
    QualificationRuleSerializer,
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


class PartnerChildViewSet(viewsets.GenericViewSet):
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


class PartnerEndpointViewSet(PartnerChildViewSet):
    """``/partners/{slug}/endpoints/{id}/``: configured here, tried (preview, test postback) in ``deliveries.api``."""

    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self):
        return PostbackEndpoint.objects.filter(partner=self.partner()).prefetch_related("event_types")


@extend_schema_view(**api_docs.ENDPOINT_VIEWS)
class EndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    PartnerEndpointViewSet,
):
    serializer_class = EndpointSerializer
    http_method_names = _READ_WRITE

    def perform_create(self, serializer):
        endpoint = PostbackEndpoint(partner=self.partner())
        serializer.instance = endpoint_save(endpoint=endpoint, **serializer.save_kwargs())

    def perform_update(self, serializer):
        serializer.instance = endpoint_save(endpoint=serializer.instance, **serializer.save_kwargs())


@extend_schema_view(**api_docs.PAYOUT_VIEWS)
class PayoutRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, PartnerChildViewSet,
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
    mixins.DestroyModelMixin, PartnerChildViewSet,
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
