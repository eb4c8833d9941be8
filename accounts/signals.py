"""Every commit that saves or deletes an API key replaces the keys' version, so no process keeps a stale copy.

Saves and deletes (services, the admin, cascades) send these signals.
``QuerySet.update`` sends none: it is used only for ``last_used_at``, which
no copy needs to follow; code that updates anything else on a key must call
``api_keys_changed`` itself.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .accepted_keys import api_keys_changed
from .models import ApiKey


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
def _saved_or_deleted(sender, **kwargs) -> None:
    api_keys_changed()
