import django.core.validators
import django.db.models.deletion
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0006_event_reversal'),
        ('partners', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='QualificationRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('is_active', models.BooleanField(default=True)),
                ('window_start', models.CharField(choices=[('registration', 'Registration'), ('first_deposit', 'First deposit')], default='registration', max_length=16)),
                ('window_days', models.PositiveIntegerField(default=30, help_text="Only events within this many days from the window's start count.", validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(3650)])),
                ('currency', models.CharField(blank=True, help_text='ISO 4217; required with any money condition.', max_length=3)),
                ('min_first_deposit', models.DecimalField(blank=True, decimal_places=4, help_text='The first deposit is at least this much.', max_digits=18, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('min_deposit_count', models.PositiveIntegerField(blank=True, help_text='At least this many deposits.', null=True)),
                ('min_deposit_sum', models.DecimalField(blank=True, decimal_places=4, help_text='Deposits add up to at least this much.', max_digits=18, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('wager_param', models.CharField(default='wager', help_text='The game_activity param that holds the amount wagered.', max_length=64)),
                ('min_wager_sum', models.DecimalField(blank=True, decimal_places=4, help_text='Wagers (the param above, on game_activity events) add up to at least this much.', max_digits=18, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('allowed_countries', models.JSONField(blank=True, default=list, help_text='ISO 3166 codes, e.g. ["DE", "AT"]; the player\'s params.country must be one. Empty: any.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='qualification_rules', to='partners.partner')),
            ],
            options={
                'ordering': ['partner', 'name'],
            },
        ),
        migrations.CreateModel(
            name='Qualification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('met_by', models.JSONField(default=list, help_text="The platform's ids of the events that met the rule.")),
                ('qualified_at', models.DateTimeField()),
                ('event', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='qualification', to='events.event')),
                ('player', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='qualifications', to='events.player')),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='qualifications', to='partners.qualificationrule')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('rule', 'player'), name='one_qualification_per_rule_player')],
            },
        ),
    ]
