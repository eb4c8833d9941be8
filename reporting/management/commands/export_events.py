from reporting.exports import EVENT_COLUMNS, events_matching
from reporting.management.export_command import TableExportCommand


class Command(TableExportCommand):
    help = "Write events as CSV (the columns of GET /api/v1/export/events.csv) to a file or stdout."
    columns = EVENT_COLUMNS
    filters = (
        ("event_id", "The platform's event id."),
        ("type", "Event type slug."),
        ("player_id", "The platform's player id."),
        ("partner", "Partner slug."),
        ("from", "Occurred at or after: 2026-11-23 or 2026-11-23T10:00:00Z."),
        ("to", "Occurred before; a plain date includes that whole day."),
    )
    matching = staticmethod(events_matching)
