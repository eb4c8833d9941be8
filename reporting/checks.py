"""Start-up checks: a reporting time zone that does not exist would cut every day wrong."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import checks


@checks.register()
def reporting_time_zone_exists(app_configs, **kwargs):
    name = settings.REPORTING_TIME_ZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            checks.Error(
                f"REPORTING_TIME_ZONE={name!r} is not a known time zone.",
                hint="Use an IANA name such as UTC, Europe/Berlin or America/Sao_Paulo.",
                id="reporting.E001",
            )
        ]
    return []
