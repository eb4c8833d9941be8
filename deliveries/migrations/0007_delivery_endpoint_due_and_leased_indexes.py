from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deliveries', '0006_covered_foreign_key_indexes'),
        ('events', '0005_covered_foreign_key_indexes'),
        ('partners', '0004_endpoint_circuit_breaker'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('status__in', ['pending', 'retrying'])), fields=['endpoint', 'next_attempt_at'], name='delivery_endpoint_due'),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('claimed_by', ''), _negated=True), fields=['endpoint', 'claimed_until'], name='delivery_leased'),
        ),
    ]
