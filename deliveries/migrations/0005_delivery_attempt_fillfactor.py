"""Room on each page for the sender's updates, so most of them are heap-only (HOT).

A delivery is updated as it is claimed, as its attempt is counted and as its
outcome is written; its attempt, as it is finished. On a full page (the
default fill factor of 100) each of those updates writes a new entry into
each of the table's indexes (thirteen for deliveries), although only the last one
changes an indexed column. With free space on the page PostgreSQL keeps the
new row version beside the old one and leaves the indexes alone. It applies to
pages written from now on; nothing is rewritten.
"""

from django.db import migrations

FILL_FACTORS = {"deliveries_delivery": 70, "deliveries_deliveryattempt": 80}


def set_fill_factors(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, percent in FILL_FACTORS.items():
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def reset_fill_factors(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in FILL_FACTORS:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("deliveries", "0004_delivery_partner_status_index")]

    operations = [migrations.RunPython(set_fill_factors, reset_fill_factors)]
