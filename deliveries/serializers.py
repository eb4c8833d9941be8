"""Delivery and attempt bodies of the status API.

Request headers are never shown: they may hold a partner's credentials.
What went to the partner and what it answered (the request URL, which may
carry a partner's token, and the response excerpt) is the business of the
affiliate side: admin keys see it, platform keys get null in its place. The
fields stay in every body, so both roles read one schema.
"""

from rest_framework import serializers

from .models import Delivery, DeliveryAttempt


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery in a list, or inside its event: ``attempts`` is the number made so far."""

    partner = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    event_type = serializers.CharField(source="event_type_id", read_only=True)
    attempts = serializers.IntegerField(source="attempt_count", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "event", "endpoint", "partner", "event_type", "status", "attempts",
            "next_attempt_at", "held_until", "delivered_at", "last_status_code", "last_error", "created_at",
        ]
        read_only_fields = fields


PARTNER_EXCHANGE_NOTE = "Null for platform keys: what was sent to the partner and its answer are shown to admin keys."


class PartnerExchangeHidden(serializers.Serializer):
    """Nulls ``partner_exchange_fields`` unless the context says the caller may see them (``show_partner_exchange``)."""

    partner_exchange_fields: tuple[str, ...] = ()

    def to_representation(self, instance):
        body = super().to_representation(instance)
        if not self.context.get("show_partner_exchange", False):
            body.update(dict.fromkeys(self.partner_exchange_fields))
        return body


def _exchange_field() -> serializers.CharField:
    return serializers.CharField(read_only=True, allow_null=True, help_text=PARTNER_EXCHANGE_NOTE)


class DeliveryAttemptSerializer(PartnerExchangeHidden, serializers.ModelSerializer):
    partner_exchange_fields = ("request_url", "response_excerpt")
    request_url = _exchange_field()
    response_excerpt = _exchange_field()

    class Meta:
        model = DeliveryAttempt
        fields = [
            "number", "outcome", "started_at", "finished_at", "duration_ms", "request_method", "request_url",
            "status_code", "error", "error_class", "response_excerpt",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(PartnerExchangeHidden, DeliverySerializer):
    """One delivery with every attempt, oldest first."""

    partner_exchange_fields = ("request_url",)
    request_url = _exchange_field()
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)
    attempt_count = serializers.IntegerField(read_only=True)
    held_reason = serializers.CharField(
        read_only=True,
        help_text="Why a pending or retrying delivery is not being sent: a paused endpoint or partner, an open "
        "circuit, or the endpoint's hold period.",
    )

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempt_count", "request_method", "request_url", "held_reason"]
        read_only_fields = fields

