from django.db import migrations, models


class Migration(migrations.Migration):
    """The circuit breaker replaces the indefinite auto-pause: the threshold now opens the circuit."""

    dependencies = [
        ("partners", "0003_endpoint_event_names"),
    ]

    operations = [
        migrations.RenameField(
            model_name="postbackendpoint", old_name="auto_pause_after", new_name="circuit_failure_threshold"
        ),
        migrations.AlterField(
            model_name="postbackendpoint",
            name="circuit_failure_threshold",
            field=models.PositiveIntegerField(
                default=50,
                help_text="Open the circuit (hold deliveries, probe the partner) after this many consecutive failed "
                "attempts; 0 never opens it.",
            ),
        ),
        migrations.AddField(
            model_name="postbackendpoint",
            name="circuit_next_probe_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="postbackendpoint",
            name="circuit_opened_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="postbackendpoint",
            name="circuit_probe_seconds",
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
    ]
