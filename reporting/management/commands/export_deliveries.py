from reporting.exports import DELIVERY_COLUMNS, deliveries_matching
from reporting.management.export_command import TableExportCommand


class Command(TableExportCommand):
    help = "Write deliveries as CSV (the columns of GET /api/v1/export/deliveries.csv) to a file or stdout."
    columns = DELIVERY_COLUMNS
    filters = (
        ("status", "pending, retrying, delivered, failed or cancelled."),
        ("partner", "Partner slug."),
        ("endpoint", "Postback endpoint id."),
        ("event_type", "The type the endpoint receives, e.g. first_deposit."),
        ("from", "Created at or after: 2026-11-23 or 2026-11-23T10:00:00Z."),
        ("to", "Created before; a plain date includes that whole day."),
    )
    matching = staticmethod(deliveries_matching)
