"""A moment as the console writes it, in Python code (templates get the same from the format module)."""

from datetime import datetime

from django.utils import formats, timezone


def console_time(value: datetime | None) -> str:
    """``2026-12-05 14:03:07 CET``: seconds and zone, in the reporting time zone; a dash for none."""
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
