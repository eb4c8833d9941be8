"""Long CSV exports from the admin's lists, written by a worker while the manager goes on working.

A list exports at once while it holds at most ``EXPORT_INLINE_ROWS`` rows; past that the export becomes
a job. A worker opens the list again as the requester (same filters, same search, the requester's own
permissions), counts its rows, writes the CSV under ``EXPORT_DIR`` (the same bytes as a streamed export)
and records how far it has got, which the job's page shows as a progress bar. The requester is told on
their next admin page that it is ready. Files go ``EXPORT_KEEP_HOURS`` after they were requested.
"""

import datetime as dt
import logging
import re
import time
from contextlib import closing
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.http import QueryDict
from django.test import RequestFactory
from django.utils import timezone


from .exports import table_chunks
from .models import ExportJob

logger = logging.getLogger(__name__)

PROGRESS_WRITE_SECONDS = 0.5
# A queued job not started after this long lost its message (the broker was down): it is queued again.
QUEUED_GRACE = dt.timedelta(minutes=1)
# A running job whose progress stood still this long lost its worker: another takes it over, from the start.
# Each take is a new attempt: the worker that had it (it may be alive, only slow) writes its own file and
# its updates carry its attempt, so once taken over it changes nothing and its file is thrown away.
STALLED_AFTER = dt.timedelta(minutes=5)
# Query parameters of a changelist that say nothing about which rows it holds.
NOT_FILTERS = {"o", "p", "e", "all", "_changelist_filters", "bom"}


def export_file_name(stem: str, params: QueryDict, *, now: dt.datetime | None = None) -> str:
    """``deliveries_status-failed_partner-3_2026-12-05_1403.csv``: the list, its filters, the requester's day and time."""
    parts = [stem]
    for key in sorted(params):
        if key in NOT_FILTERS:
            continue
        name = "search" if key == "q" else key.split("__")[0]
        for value in params.getlist(key):
            if value:
                parts.append(_slug(f"{name}-{value}"))
    stamp = timezone.localtime(now or timezone.now()).strftime("%Y-%m-%d_%H%M")
    return f"{'_'.join(parts)[:150]}_{stamp}.csv"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")[:40]


def export_job_create(*, user, model_label: str, params: QueryDict, file_name: str, bom: bool) -> ExportJob:
    """The job of exporting the list ``model_label`` under ``params``; ``tasks.export_job_request`` queues it."""
    return ExportJob.objects.create(
        requested_by=user, model=model_label, query_string=params.urlencode(), file_name=file_name, bom=bom
    )


def export_job_run(*, job_id: int) -> None:
    """Write the job's file (from the start, if a worker died on it before), recording progress as it goes.

    Only one worker writes a job: it takes it by moving it from queued (or stalled) to running, under a new
    attempt. Everything it records afterwards is for that attempt only; if another worker has taken the job
    over in the meantime, this one's updates change nothing and its file is removed.
    """
    job = _take(job_id)
    if job is None:
        return
    progress = _progress_recorder(job)
    try:
        queryset, columns = _list_as_requested(job)
        _update(job, updated_at=timezone.now())  # the count, then the query's sort, come before any progress
        job.rows_total = queryset.count()
        _update(job, rows_total=job.rows_total, updated_at=timezone.now())
        partial = _write(job, table_chunks(queryset, columns, bom=job.bom, progress=progress))
    except (PermissionDenied, IncorrectLookupParameters, LookupError) as exc:
        _failed(job, f"The list could not be opened as it was asked for ({exc or type(exc).__name__}); "
                     "open it again and export anew.")
        return
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        _failed(job, f"The export stopped: {type(exc).__name__}. Export anew; if it fails again, tell an operator.")
        return
    _finish(job, partial)


def _take(job_id: int) -> ExportJob | None:
    """The job under a new attempt, if it is queued or its worker stalled; None if another worker has it."""
    now = timezone.now()
    with transaction.atomic():
        taken = ExportJob.objects.filter(pk=job_id).filter(
            Q(status=ExportJob.Status.QUEUED) | Q(status=ExportJob.Status.RUNNING, updated_at__lt=now - STALLED_AFTER)
        ).update(status=ExportJob.Status.RUNNING, attempt=F("attempt") + 1, rows_done=0, rows_total=None, error="",
                 updated_at=now)
        if not taken:
            return None
        return ExportJob.objects.select_related("requested_by").get(pk=job_id)


def _update(job: ExportJob, **fields) -> bool:
    """Record ``fields`` if the job is still running under ``job``'s attempt; False once it is not."""
    return bool(ExportJob.objects.filter(pk=job.pk, attempt=job.attempt, status=ExportJob.Status.RUNNING)
                .update(**fields))


def _finish(job: ExportJob, partial: Path) -> None:
    """Put the file in place and mark the job done, if this attempt still has it; otherwise throw the file away."""
    with transaction.atomic():
        current = ExportJob.objects.select_for_update().filter(
            pk=job.pk, attempt=job.attempt, status=ExportJob.Status.RUNNING
        ).exists()
        if current:
            partial.replace(export_file_path(job))  # a download never sees half a file
            now = timezone.now()
            _update(job, status=ExportJob.Status.DONE, rows_done=job.rows_done, finished_at=now, updated_at=now)
    if not current:
        partial.unlink(missing_ok=True)
        logger.warning("export %s was taken over by another worker; attempt %s is dropped", job.pk, job.attempt)


def _list_as_requested(job: ExportJob):
    model = apps.get_model(job.model)
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/", QueryDict(job.query_string, mutable=True))
    request.user = job.requested_by
    if not model_admin.has_view_permission(request):
        raise PermissionDenied("the requester may no longer see this list")
    changelist = model_admin.get_changelist_instance(request)
    return changelist.get_queryset(request), model_admin.csv_columns


def _progress_recorder(job: ExportJob):
    """Adds up the rows written and records them every PROGRESS_WRITE_SECONDS.

    The writer reads its rows in this thread, so progress goes through the same connection between two
    fetches; the export is not in a transaction, so each update is seen at once.
    """
    last_written = time.monotonic()

    def record(rows: int) -> None:
        nonlocal last_written
        job.rows_done += rows
        if time.monotonic() - last_written >= PROGRESS_WRITE_SECONDS:
            _update(job, rows_done=job.rows_done, updated_at=timezone.now())
            last_written = time.monotonic()

    return record


def _write(job: ExportJob, chunks) -> Path:
    """Write the attempt's part file; returns it (``_finish`` puts it in place). A failed write leaves none."""
    path = export_file_path(job)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    try:
        # closing: an error ends the export's generators, and their transaction, before the failure is recorded
        with closing(chunks), partial.open("w", encoding="utf-8", newline="") as file:
            for text in chunks:
                file.write(text)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return partial


def _failed(job: ExportJob, error: str) -> None:
    now = timezone.now()
    _update(job, status=ExportJob.Status.FAILED, error=error, finished_at=now, updated_at=now)


def export_file_path(job: ExportJob) -> Path:
    """The file of the job's attempt (jobs written before attempts were counted have attempt 0)."""
    name = f"export-{job.pk}-{job.attempt}.csv" if job.attempt else f"export-{job.pk}.csv"
    return Path(settings.EXPORT_DIR) / name


def _export_files(job: ExportJob) -> list[Path]:
    """Every file any attempt of the job left, finished or not."""
    directory = Path(settings.EXPORT_DIR)
    return [*directory.glob(f"export-{job.pk}-*"), *directory.glob(f"export-{job.pk}.*")]


def exports_ready_to_announce(user) -> list[ExportJob]:
    """The requester's exports that became ready since they were last told; telling them now."""
    ready = list(ExportJob.objects.filter(requested_by=user, notified=False, status__in=[
        ExportJob.Status.DONE, ExportJob.Status.FAILED,
    ])[:5])
    if ready:
        ExportJob.objects.filter(pk__in=[job.pk for job in ready]).update(notified=True)
    return ready


def export_jobs_lost(*, now: dt.datetime | None = None) -> list[int]:
    """The jobs whose message or worker was lost: queued long ago, or running without progress."""
    now = now or timezone.now()
    return list(ExportJob.objects.filter(
        Q(status=ExportJob.Status.QUEUED, created_at__lt=now - QUEUED_GRACE)
        | Q(status=ExportJob.Status.RUNNING, updated_at__lt=now - STALLED_AFTER)
    ).values_list("pk", flat=True))


def export_jobs_prune(*, now: dt.datetime | None = None) -> int:
    """Remove the jobs requested more than EXPORT_KEEP_HOURS ago, files included; returns how many."""
    now = now or timezone.now()
    old = list(ExportJob.objects.filter(created_at__lt=now - dt.timedelta(hours=settings.EXPORT_KEEP_HOURS)))
    for job in old:
        for path in _export_files(job):
            path.unlink(missing_ok=True)
    ExportJob.objects.filter(pk__in=[job.pk for job in old]).delete()
    return len(old)
