"""Event bodies of the REST API.

Incoming events are validated, and documented, by ``ingest.validation``'s
declarative definition (plain Python, fast for batches); the serializers here
write the answers.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deliveries.serializers import DeliverySerializer
from events.currencies import smallest_unit
from events.models import Event, PlayerErasure
from events.params import params_inherited
from lib.json_types import JsonTypesMixin

from .services import INGEST_STATUSES


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
    """The answer to an ingest: the stored event, its deliveries as the ingest left them, and how it was taken in.

    Ingest sets ``ingested_deliveries`` and ``warnings`` on the event (``ingested_event_data``): a new event's
    deliveries were just made, so they are not read back.
    """

    deliveries = DeliverySerializer(many=True, read_only=True, source="ingested_deliveries")
    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="How the event was taken in differently from what was sent, e.g. a partner that was not applied.",
    )

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


# One instance per process: a ModelSerializer works out its fields each time it is made, which
# costs several times the whole answer; writing an event keeps no state on it, so requests share it.
_INGESTED_EVENT = IngestedEventSerializer()


def ingested_event_data(event: Event, *, deliveries, warnings: list[str]) -> dict:
    """The answer to an ingest of ``event``, as ``IngestedEventSerializer`` writes (and documents) it."""
    event.ingested_deliveries = deliveries
    event.warnings = warnings
    return _INGESTED_EVENT.to_representation(event)


def amount_text(event: Event) -> str | None:
    if event.amount is None:
        return None
    step = smallest_unit(event.currency)
    return str(event.amount if step is None else event.amount.quantize(step))


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
