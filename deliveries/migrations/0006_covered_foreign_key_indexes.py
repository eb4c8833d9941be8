import django.db.models.deletion
from django.db import migrations, models

from lib.migration_operations import drop_foreign_key_indexes


class Migration(migrations.Migration):
    """These foreign keys each lead a unique constraint or a composite index already."""

    # DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("deliveries", "0005_delivery_attempt_fillfactor"),
        ("events", "0004_event_click_id_index"),
        ("partners", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="endpoint",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="deliveries", to="partners.postbackendpoint"),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="event",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="deliveries", to="events.event"),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="partner",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="deliveries", to="partners.partner"),
                ),
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="delivery",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="attempts", to="deliveries.delivery"),
                ),
            ],
            database_operations=[
                drop_foreign_key_indexes("deliveries", "delivery", "endpoint", "event", "partner"),
                drop_foreign_key_indexes("deliveries", "deliveryattempt", "delivery"),
            ],
        ),
    ]
