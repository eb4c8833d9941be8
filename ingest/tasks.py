"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from .erasure import SETTLE_TASK, player_erasure_settle


@shared_task(name=SETTLE_TASK, ignore_result=True)
def settle_player_erasure(erasure_id: int) -> None:
    """Published by ``player_erase`` when attempts were in flight, to run once their senders are done."""
    player_erasure_settle(erasure_id=erasure_id)
