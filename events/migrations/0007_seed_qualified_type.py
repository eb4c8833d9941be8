from django.db import migrations

from events.builtins import event_types_seed


def seed(apps, schema_editor):
    event_types_seed(apps.get_model("events", "EventType"))


class Migration(migrations.Migration):
    """The built-in qualified type, for installations migrated before it existed."""

    dependencies = [("events", "0006_event_reversal")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
