"""Delivery and attempt bodies of the status API.

Request headers are never shown: they may hold a partner's credentials.
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
            "next_attempt_at", "delivered_at", "last_status_code", "last_error", "created_at",
        ]
        read_only_fields = fields


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number", "outcome", "started_at", "finished_at", "duration_ms", "request_method", "request_url",
            "status_code", "error", "error_class", "response_excerpt",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    """One delivery with every attempt, oldest first."""

    attempts = DeliveryAttemptSerializer(many=True, read_only=True)
    attempt_count = serializers.IntegerField(read_only=True)
    held_reason = serializers.CharField(
        read_only=True, help_text="Why a pending or retrying delivery is not being sent (a paused endpoint or partner)."
    )

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempt_count", "request_method", "request_url", "held_reason"]
        read_only_fields = fields

