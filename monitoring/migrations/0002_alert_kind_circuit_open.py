from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('monitoring', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alert',
            name='kind',
            field=models.CharField(choices=[('endpoint_paused', 'Endpoint paused automatically'), ('circuit_open', 'Endpoint circuit open'), ('failure_rate', 'Endpoint failure rate over threshold'), ('backlog_age', 'Oldest due delivery too old')], max_length=32),
        ),
    ]
