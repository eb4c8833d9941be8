from django.db import migrations

BUILTIN_TYPES = [
    ("registration", "Registration", False),
    ("first_deposit", "First deposit", True),
    ("deposit", "Deposit", True),
    ("game_activity", "Game activity", False),
    ("withdrawal", "Withdrawal", True),
    ("conversion", "Conversion", False),
]


def seed(apps, schema_editor):
    EventType = apps.get_model("events", "EventType")
    for slug, name, requires_amount in BUILTIN_TYPES:
        EventType.objects.update_or_create(
            slug=slug, defaults={"name": name, "requires_amount": requires_amount, "is_builtin": True}
        )


def unseed(apps, schema_editor):
    apps.get_model("events", "EventType").objects.filter(is_builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("events", "0002_initial")]

    operations = [migrations.RunPython(seed, unseed)]
