import django.db.models.deletion
from django.db import migrations, models

from lib.migration_operations import drop_foreign_key_indexes


class Migration(migrations.Migration):
    """Each of these foreign keys leads a composite index already (partner, player or type with a time)."""

    # DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("events", "0004_event_click_id_index"),
        ("partners", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='event',
                    name='partner',
                    field=models.ForeignKey(blank=True, db_index=False, help_text='The partner the player is attributed to, when the event was stored.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='partners.partner'),
                ),
                migrations.AlterField(
                    model_name='event',
                    name='player',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='events.player'),
                ),
                migrations.AlterField(
                    model_name='event',
                    name='type',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='events.eventtype', to_field='slug'),
                ),
                migrations.AlterField(
                    model_name='player',
                    name='partner',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='players', to='partners.partner'),
                ),
            ],
            database_operations=[
                drop_foreign_key_indexes("events", "event", "partner", "player", "type"),
                drop_foreign_key_indexes("events", "player", "partner"),
            ],
        ),
    ]
