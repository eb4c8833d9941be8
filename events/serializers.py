"""Event bodies of the REST API.

Incoming events are validated by ``events.validation`` (plain Python, fast
for batches); ``EventInputSerializer`` only documents that body in the
OpenAPI schema, and a test keeps its fields equal to the validator's.
"""

from datetime import datetime

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deliveries.serializers import DeliverySerializer
from lib.json_types import JsonTypesMixin

from .currencies import smallest_unit
from .models import Event, PlayerErasure
from .params import params_inherited
from .services import INGEST_STATUSES, MAX_BATCH_SIZE
from .validation import MAX_PARAMS


class EventSerializer(serializers.ModelSerializer):
    """An event as stored, with its deliveries and their statuses."""

    type = serializers.CharField(source="type_id", read_only=True)
    partner = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="The partner the player is attributed to."
    )
    amount = serializers.SerializerMethodField()
    inherited_params = serializers.SerializerMethodField()
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = Event
        fields = [
            "id", "event_id", "type", "player_id", "partner", "click_id", "amount", "currency", "params",
            "inherited_params", "occurred_at", "received_at", "is_first_deposit", "reversed_at", "deliveries",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True, "example": "25.00"})
    def get_amount(self, event: Event) -> str | None:
        """The amount at its currency's precision (``25.00`` EUR, ``2500`` JPY)."""
        return amount_text(event)

    @extend_schema_field({"type": "object", "additionalProperties": True, "example": {"sub2": "campaign-7"}})
    def get_inherited_params(self, event: Event) -> dict:
        """Params this event takes from its player's tracking params: postbacks render them as ``{params.NAME}``."""
        return params_inherited(params=event.params, tracking_params=event.player.tracking_params)


class IngestedEventSerializer(EventSerializer):
    """The answer to an ingest: the stored event, and notes about how it was taken in."""

    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="How the event was taken in differently from what was sent, e.g. a partner that was not applied.",
    )

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


def ingested_event_body(event: Event, *, deliveries, warnings: list[str]) -> dict:
    """``IngestedEventSerializer``'s body, built directly: ingest answers every event with it.

    A ``ModelSerializer`` builds its fields again for every instance; this
    costs a dict. The serializer stays as the schema's documentation, and a
    test keeps the two bodies equal.
    """
    return {
        "id": event.pk,
        "event_id": event.event_id,
        "type": event.type_id,
        "player_id": event.player_id,
        "partner": event.partner.slug if event.partner_id else None,
        "click_id": event.click_id,
        "amount": amount_text(event),
        "currency": event.currency,
        "params": event.params,
        "inherited_params": params_inherited(params=event.params, tracking_params=event.player.tracking_params),
        "occurred_at": _datetime_text(event.occurred_at),
        "received_at": _datetime_text(event.received_at),
        "is_first_deposit": event.is_first_deposit,
        "reversed_at": _datetime_text(event.reversed_at),
        "deliveries": [_delivery_body(delivery) for delivery in deliveries],
        "warnings": warnings,
    }


def _delivery_body(delivery) -> dict:
    """``DeliverySerializer``'s body of one delivery."""
    return {
        "id": delivery.pk,
        "event": delivery.event_id,
        "endpoint": delivery.endpoint_id,
        "partner": delivery.partner.slug,
        "event_type": delivery.event_type_id,
        "status": delivery.status,
        "attempts": delivery.attempt_count,
        "next_attempt_at": _datetime_text(delivery.next_attempt_at),
        "held_until": _datetime_text(delivery.held_until),
        "delivered_at": _datetime_text(delivery.delivered_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": _datetime_text(delivery.created_at),
    }


def amount_text(event: Event) -> str | None:
    if event.amount is None:
        return None
    step = smallest_unit(event.currency)
    return str(event.amount if step is None else event.amount.quantize(step))


_DATETIME = serializers.DateTimeField()


def _datetime_text(value: datetime | None) -> str | None:
    """As the serializers write it (DRF's ``DateTimeField``)."""
    return None if value is None else _DATETIME.to_representation(value)


class EventInputSerializer(serializers.Serializer):
    """The event body a platform sends (documentation of ``events.validation``)."""

    event_id = serializers.CharField(max_length=128, help_text="The platform's unique id for this event.")
    type = serializers.CharField(help_text="registration, first_deposit, deposit, game_activity, withdrawal, "
                                 "conversion, or a custom type configured on the platform.")
    player_id = serializers.CharField(max_length=128)
    occurred_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="RFC 3339 with an offset; defaults to the time of receipt."
    )
    partner = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=64,
        help_text="Slug of the partner that brought the player; binds the player on its first event.",
    )
    click_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=256)
    amount = serializers.CharField(
        required=False, allow_null=True,
        help_text="Positive decimal at the currency's precision; required for deposit, first_deposit, withdrawal.",
    )
    currency = serializers.CharField(
        required=False, allow_null=True, min_length=3, max_length=3, help_text="ISO 4217 code, with amount."
    )
    params = serializers.DictField(
        required=False, allow_null=True, help_text=f"Up to {MAX_PARAMS} flat values (string, number, boolean)."
    )


class EventBatchInputSerializer(serializers.Serializer):
    events = EventInputSerializer(many=True, max_length=MAX_BATCH_SIZE)


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the submitted list, from 0.")
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=INGEST_STATUSES)
    id = serializers.IntegerField(required=False, help_text="The stored event's id (created, duplicate, conflict).")
    is_first_deposit = serializers.BooleanField(required=False)
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class EventBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    conflict = serializers.IntegerField()
    error = serializers.IntegerField()
    results = BatchItemResultSerializer(many=True)


class ReverseInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=Event.ReversalReason.choices, help_text="Why the event no longer stands."
    )


class ReverseByEventIdInputSerializer(JsonTypesMixin, ReverseInputSerializer):
    event_id = serializers.CharField(max_length=128, help_text="The platform's id of the event to reverse.")


class ReversedEventSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="type_id", read_only=True)

    class Meta:
        model = Event
        fields = ["id", "event_id", "type", "reversed_at"]
        read_only_fields = fields


class ReversalSerializer(EventSerializer):
    """A reversal event: what it reverses and why, and its follow-up postbacks."""

    reverses = ReversedEventSerializer(read_only=True)
    reason = serializers.CharField(source="reversal_reason", read_only=True)
    cancelled = serializers.SerializerMethodField(
        help_text="Postbacks of the original cancelled because they had not gone out yet (0 on a repeat)."
    )

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "reverses", "reason", "cancelled"]
        read_only_fields = fields

    def get_cancelled(self, event: Event) -> int:
        return self.context.get("cancelled", 0)


ERASURE_COUNTS = ("players", "events", "deliveries", "deliveries_cancelled", "attempts", "statistics_days")


class PlayerErasureSerializer(serializers.ModelSerializer):
    """The record of an erasure, as the erase route answers it: never the erased values."""

    status = serializers.SerializerMethodField(help_text="erased, or already_erased when an earlier call did it.")
    changed = serializers.SerializerMethodField(help_text="How many rows of each kind this call changed.")

    class Meta:
        model = PlayerErasure
        fields = ["id", "status", "pseudonym", "erased_at", "requested_by", "changed"]
        read_only_fields = fields

    def get_status(self, erasure: PlayerErasure) -> str:
        return "already_erased" if erasure.already_erased else "erased"

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
    def get_changed(self, erasure: PlayerErasure) -> dict[str, int]:
        return {name: getattr(erasure, name) for name in ERASURE_COUNTS}
