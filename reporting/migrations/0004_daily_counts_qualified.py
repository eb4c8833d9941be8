from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reporting', '0003_players_span'),
    ]

    operations = [
        migrations.AddField(
            model_name='dailycounts',
            name='qualified',
            field=models.PositiveIntegerField(default=0),
        ),
    ]
