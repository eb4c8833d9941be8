"""Enqueue Celery tasks only once the transaction that needs them commits.

A task published before commit can run before its rows are visible, and one
published for a rolled-back transaction runs for rows that never existed.
A broker that is down is logged, not raised: the rows are committed and the
beat-driven scheduler finds due work in the database anyway.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    transaction.on_commit(lambda: _publish(task, args, kwargs))


def _publish(task, args, kwargs) -> None:
    try:
        task.apply_async(args=args, kwargs=kwargs)
    except Exception:  # noqa: BLE001 - any broker failure; the scheduler recovers
        logger.warning("could not publish %s; the scheduler will pick the work up", task.name, exc_info=True)
