"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from .export_jobs import export_job_run, export_jobs_tend
from .rollup import stats_rollup_refresh


@shared_task(name="reporting.tasks.refresh_stats_rollup", ignore_result=True)
def refresh_stats_rollup() -> int | None:
    """Run by beat: the days touched since the last run, within STATS_ROLLUP_TIME_BUDGET_SECONDS."""
    return stats_rollup_refresh()


@shared_task(name="reporting.tasks.run_export_job", ignore_result=True)
def run_export_job(job_id: int) -> None:
    """Write one admin export (a worker that dies on it leaves the message to the next, which starts over)."""
    export_job_run(job_id=job_id)


@shared_task(name="reporting.tasks.tend_export_jobs", ignore_result=True)
def tend_export_jobs() -> int:
    """Run by beat: queue again exports whose message or worker was lost; remove those past EXPORT_KEEP_HOURS."""
    return export_jobs_tend()
