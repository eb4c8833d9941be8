from django.db import migrations, models

from lib.partitioning import tables_partition


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite keeps plain tables
    models_in_order = [
        apps.get_model("events", "Event"), apps.get_model("deliveries", "Delivery"),
        apps.get_model("deliveries", "DeliveryAttempt"),
    ]
    qualification = apps.get_model("partners", "Qualification")
    referencing = [(qualification, qualification._meta.get_field("event"))]
    tables_partition(schema_editor, models_in_order, referencing=referencing)


class Migration(migrations.Migration):
    """Events, deliveries and attempts become tables partitioned by month (lib.partitioning).

    The rows there are stay together in one partition per table, so this
    copies each table once, under lock: on a large database, run it in a
    maintenance window (docs/operating.md, "Storage over years"). It cannot
    be undone by a migration.
    """

    dependencies = [
        ("deliveries", "0011_delivery_event_type_index"),
        ("events", "0010_event_constraints_for_partitions"),
        ("partners", "0007_endpoint_credentials"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="delivery", name="one_delivery_per_event_endpoint"),
        migrations.AddIndex(
            model_name="delivery", index=models.Index(fields=["event", "endpoint"], name="delivery_event_endpoint"),
        ),
        migrations.RunPython(forward),
    ]
