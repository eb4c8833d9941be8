"""Celery tasks: thin wrappers that call a service; and queuing an export job, which publishes one of them."""

from celery import shared_task
from django.http import QueryDict

from lib.queue import enqueue_on_commit

from .export_jobs import export_job_create, export_job_run, export_jobs_lost, export_jobs_prune
from .models import ExportJob
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
    for job_id in export_jobs_lost():
        enqueue_on_commit(run_export_job, job_id)
    return export_jobs_prune()


def export_job_request(*, user, model_label: str, params: QueryDict, file_name: str, bom: bool) -> ExportJob:
    """Queue the export of the list ``model_label`` under ``params``; a worker writes it after commit."""
    job = export_job_create(user=user, model_label=model_label, params=params, file_name=file_name, bom=bom)
    enqueue_on_commit(run_export_job, job.pk)
    return job
