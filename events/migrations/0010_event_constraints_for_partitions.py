from django.db import migrations, models


class Migration(migrations.Migration):
    """Events give up the unique constraints a partitioned table cannot hold (see lib.partitioning).

    One first deposit per player is kept by the player's row lock at ingest,
    one reversal per event by the original's row lock and the reversal's
    derived event_id. An event's reversal is found through a partial index.
    """

    dependencies = [("events", "0009_player_registered_index")]

    operations = [
        migrations.RemoveConstraint(model_name="event", name="one_first_deposit_per_player"),
        migrations.RemoveConstraint(model_name="event", name="one_reversal_per_event"),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(condition=models.Q(reverses__isnull=False), fields=["reverses"], name="event_reverses"),
        ),
    ]
