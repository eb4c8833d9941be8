"""Peer-side steps, run in the peer's own process (its settings, its Celery app).

``setup URL FANOUT``: ``FANOUT`` active webhooks on ``auth.Group`` creation, all to ``URL``.
``produce PREFIX COUNT``: create ``COUNT`` groups; each save queues one task per webhook.
"""

import sys

import django

django.setup()

from django.contrib.auth.models import Group  # noqa: E402 - needs django.setup()
from django_webhook.models import Webhook, WebhookTopic  # noqa: E402


def setup(url: str, fanout: int) -> None:
    topic, _ = WebhookTopic.objects.get_or_create(name="auth.Group/create")
    for _ in range(fanout):
        Webhook.objects.create(url=url).topics.add(topic)


def produce(prefix: str, count: int) -> None:
    for index in range(count):
        Group.objects.create(name=f"{prefix}-{index}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "setup":
        setup(args[0], int(args[1]))
    else:
        produce(args[0], int(args[1]))
