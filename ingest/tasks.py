"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from lib.partitioning import partitions_ensure

from .erasure import SETTLE_TASK, player_erasure_settle
from .retention import retention_apply


@shared_task(name=SETTLE_TASK, ignore_result=True)
def settle_player_erasure(erasure_id: int) -> None:
    """Published by ``player_erase`` when attempts were in flight, to run once their senders are done."""
    player_erasure_settle(erasure_id=erasure_id)


@shared_task(name="ingest.tasks.apply_retention", ignore_result=True)
def apply_retention() -> int:
    """Make the partitions ahead, then drop what retention says can go; returns how many periods changed."""
    partitions_ensure()
    return len(retention_apply())


@shared_task(name="ingest.tasks.create_partitions_ahead", ignore_result=True)
def create_partitions_ahead() -> list[str]:
    return partitions_ensure()
