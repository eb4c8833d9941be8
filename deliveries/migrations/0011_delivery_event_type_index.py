import django.db.models.deletion
from django.db import migrations, models

from lib.migration_operations import foreign_key_index_names


def forward(apps, schema_editor):
    model = apps.get_model("deliveries", "delivery")
    field = model._meta.get_field("event_type")
    plain, *twin = (schema_editor.quote_name(name) for name in foreign_key_index_names(schema_editor, model, field))
    if twin:  # PostgreSQL: the index itself is kept under a new name (instant); only the unused twin goes
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {twin[0]}")
        schema_editor.execute(f"ALTER INDEX IF EXISTS {plain} RENAME TO delivery_event_type")
    else:  # SQLite cannot rename an index; its tables are small
        schema_editor.execute(f"DROP INDEX IF EXISTS {plain}")
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field], name="delivery_event_type"))


def backward(apps, schema_editor):
    model = apps.get_model("deliveries", "delivery")
    field = model._meta.get_field("event_type")
    plain, *twin = foreign_key_index_names(schema_editor, model, field)
    if twin:
        schema_editor.execute(f"ALTER INDEX IF EXISTS delivery_event_type RENAME TO {schema_editor.quote_name(plain)}")
        schema_editor.execute(schema_editor._create_index_sql(
            model, fields=[field], suffix="_like", opclasses=["varchar_pattern_ops"], concurrently=True))
    else:
        schema_editor.execute("DROP INDEX IF EXISTS delivery_event_type")
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field], name=plain))


class Migration(migrations.Migration):
    """A delivery's event type keeps its index, without the LIKE-capable twin no query uses."""

    # DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("deliveries", "0010_delivery_open_held_index"),
        ("events", "0008_player_erasure"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="event_type",
                    field=models.ForeignKey(
                        db_index=False,
                        help_text="The type this endpoint receives the event as (first_deposit for a player's "
                                  "first deposit).",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="events.eventtype",
                        to_field="slug",
                    ),
                ),
                migrations.AddIndex(
                    model_name="delivery",
                    index=models.Index(fields=["event_type"], name="delivery_event_type"),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
