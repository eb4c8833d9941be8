"""Changes outside the event and delivery tables that alter past statistics mark their days stale."""

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from deliveries.models import Delivery
from deliveries.signals import outcomes_rewriting
from partners.models import PayoutRule, PostbackEndpoint

from .rollup import stats_days_mark, stats_days_of, stats_partner_days_mark


@receiver(post_save, sender=PayoutRule)
@receiver(post_delete, sender=PayoutRule)
def payout_rule_changed(sender, instance: PayoutRule, **kwargs) -> None:
    # Payouts follow the current rules, so every day of the partner changes.
    stats_partner_days_mark(partner_id=instance.partner_id)


@receiver(pre_delete, sender=PostbackEndpoint)
def endpoint_deleted(sender, instance: PostbackEndpoint, **kwargs) -> None:
    # The deliveries go with the endpoint (in the same transaction), and their counts with them.
    stats_days_mark(days=stats_days_of(deliveries=Delivery.objects.filter(endpoint=instance)))


@receiver(outcomes_rewriting)
def outcomes_rewritten(sender, deliveries, **kwargs) -> None:
    # Marked in the change's transaction, before it: a refresh sees the marks only with the change.
    stats_days_mark(days=stats_days_of(deliveries=deliveries))
