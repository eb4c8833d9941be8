from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .selectors import GROUP_BY_FIELDS


@extend_schema_field(OpenApiTypes.STR)
class PlainDecimalField(serializers.Field):
    """A decimal as a plain string (``"125.50"``), never a float or an exponent."""

    def to_representation(self, value):
        return _plain(value)


class StatsRowSerializer(serializers.Serializer):
    """One statistics row; group fields the request did not group by are left out."""

    day = serializers.DateField(required=False, help_text="Day in the reporting time zone.")
    partner = serializers.CharField(required=False, allow_null=True, help_text="Partner slug; null = unattributed.")
    event_type = serializers.CharField(required=False)
    events = serializers.IntegerField()
    unique_players = serializers.IntegerField(
        help_text="Distinct players. Exact in a row of one day (grouped by day, or a one-day range). Over several "
        "days: exact up to 512 players in the row, above that an estimate (HyperLogLog, standard error 1.6 %)."
    )
    registrations = serializers.IntegerField()
    first_deposits = serializers.IntegerField()
    qualified = serializers.IntegerField(help_text="Players that met a qualification rule of their partner.")
    deposit_sum = serializers.DictField(child=PlainDecimalField(), help_text="Currency → sum of deposits.")
    payout_sum = serializers.DictField(child=PlainDecimalField(), help_text="Currency → sum of payouts.")
    deliveries_delivered = serializers.IntegerField()
    deliveries_failed = serializers.IntegerField()
    deliveries_pending = serializers.IntegerField(help_text="Pending or retrying.")
    conversion_rate = PlainDecimalField(
        allow_null=True, help_text="First deposits / registrations, 4 places; null without registrations."
    )

    def to_representation(self, row):
        # Written out rather than field by field: DRF's generic path took longer
        # than reading the roll-up for a 120-day range (7,000 rows).
        group_by = self.context["group_by"]
        data = {name: getattr(row, name) for name in GROUP_BY_FIELDS if name in group_by}
        if "day" in data:
            data["day"] = data["day"].isoformat()
        data.update(
            {name: getattr(row, name) for name in ("events", "unique_players", "registrations", "first_deposits", "qualified")},
            deposit_sum={currency: _plain(amount) for currency, amount in row.deposit_sum.items()},
            payout_sum={currency: _plain(amount) for currency, amount in row.payout_sum.items()},
            deliveries_delivered=row.deliveries_delivered,
            deliveries_failed=row.deliveries_failed,
            deliveries_pending=row.deliveries_pending,
            conversion_rate=_plain(row.conversion_rate),
        )
        return data


def _plain(value) -> str | None:
    return None if value is None else format(value, "f")
