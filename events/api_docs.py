"""Schema pieces about events that other apps' operations share: the event filters and the currency codes."""

from drf_spectacular.utils import OpenApiParameter

from lib.api_docs import SLUG_PARAMETER, time_range_parameters

from .currencies import MINOR_UNITS
from .models import ID_MAX_LENGTH

# What ``filter_params.text_param`` takes: no control characters.
TEXT_PARAMETER = {"type": "string", "maxLength": ID_MAX_LENGTH, "pattern": r"^[^\x00-\x1f\x7f]*$"}
EVENT_FILTERS = [
    OpenApiParameter("event_id", TEXT_PARAMETER, description="The platform's event id: finds one event."),
    OpenApiParameter("type", str, description="Event type slug, e.g. deposit."),
    OpenApiParameter("player_id", TEXT_PARAMETER, description="The platform's player id."),
    OpenApiParameter("partner", SLUG_PARAMETER, description="Slug of the partner the events are attributed to."),
    *time_range_parameters("occurred_at"),
]

CURRENCY_CODES = sorted(MINOR_UNITS)
