"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from .rollup import stats_rollup_refresh


@shared_task(name="reporting.tasks.refresh_stats_rollup", ignore_result=True)
def refresh_stats_rollup() -> int | None:
    """Run by beat: the days touched since the last run, within STATS_ROLLUP_TIME_BUDGET_SECONDS."""
    return stats_rollup_refresh()
