from django.db import migrations

from events.builtins import event_types_seed


def seed(apps, schema_editor):
    event_types_seed(apps.get_model("events", "EventType"))


def unseed(apps, schema_editor):
    apps.get_model("events", "EventType").objects.filter(is_builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("events", "0002_initial")]

    operations = [migrations.RunPython(seed, unseed)]
