import django.db.models.deletion
from django.db import migrations, models

from events.builtins import event_types_seed


def seed(apps, schema_editor):
    event_types_seed(apps.get_model("events", "EventType"))


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0005_covered_foreign_key_indexes'),
        ('partners', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='reversal_reason',
            field=models.CharField(blank=True, choices=[('chargeback', 'Chargeback'), ('fraud', 'Fraud'), ('cancelled', 'Cancelled')], db_default='', default='', max_length=16),
        ),
        migrations.AddField(
            model_name='event',
            name='reversed_at',
            field=models.DateTimeField(blank=True, help_text='When the platform reversed this event; its amount and payout stop counting.', null=True),
        ),
        migrations.AddField(
            model_name='event',
            name='reverses',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.event'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(condition=models.Q(('reverses__isnull', False)), fields=('reverses',), name='one_reversal_per_event'),
        ),
        # The built-in reversal type, for installations migrated before it existed.
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
