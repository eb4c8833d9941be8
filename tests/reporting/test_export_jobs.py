"""Long admin exports: written by a worker as the requester saw the list, with progress, told once, kept a while."""

import csv
import io
from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from accounts.roles import MARKETING
from deliveries.models import Delivery
from reporting.export_jobs import export_file_name, export_file_path, export_job_run
from reporting.tasks import tend_export_jobs
from reporting.models import ExportJob
from tests.admin.conftest import member_of
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db

EXPORT = "/admin/deliveries/delivery/export.csv"


@pytest.fixture(autouse=True)
def _short_lists_only_inline(settings, tmp_path):
    settings.EXPORT_INLINE_ROWS = 2
    settings.EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def marketer(client):
    user = member_of(MARKETING)
    client.force_login(user)
    return user


@pytest.fixture
def queued(django_capture_on_commit_callbacks, monkeypatch):
    """Jobs queued by the requests, run here as a worker would run them once the request commits."""
    from reporting import tasks

    sent = []
    monkeypatch.setattr(tasks.run_export_job, "apply_async", lambda args, kwargs: sent.append(args[0]))
    return sent


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_a_short_list_still_downloads_at_once_named_after_its_filters(client, marketer):
    failed = DeliveryFactory(status=Delivery.Status.FAILED)

    response = client.get(EXPORT, {"status__exact": "failed"})

    assert response["Content-Type"].startswith("text/csv")
    name = response["Content-Disposition"]
    assert 'filename="deliveries_status-failed_' in name and name.endswith('.csv"')
    assert [row["id"] for row in _csv(b"".join(response.streaming_content).decode())] == [str(failed.pk)]


def test_a_long_list_becomes_a_job_whose_file_holds_the_same_rows_as_the_list(client, marketer, queued,
                                                                               django_capture_on_commit_callbacks):
    failed = DeliveryFactory.create_batch(3, status=Delivery.Status.FAILED)
    DeliveryFactory(status=Delivery.Status.DELIVERED)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(EXPORT, {"status__exact": "failed", "bom": "1"})

    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/reporting/exportjob/{job.pk}/change/"
    assert queued == [job.pk] and job.status == ExportJob.Status.QUEUED and job.bom
    assert job.file_name.startswith("deliveries_status-failed_") and "bom" not in job.query_string
    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total, job.percent_done) == (ExportJob.Status.DONE, 3, 3, 100)
    download = client.get(f"/admin/reporting/exportjob/{job.pk}/download/")
    content = b"".join(download.streaming_content).decode()
    assert content.startswith("\ufeff") and f'filename="{job.file_name}"' in download["Content-Disposition"]
    assert sorted(row["id"] for row in _csv(content)) == sorted(str(delivery.pk) for delivery in failed)


def test_the_progress_page_shows_the_bar_and_the_status_answers_how_far(client, marketer):
    job = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="x.csv",
                                   status=ExportJob.Status.RUNNING, rows_done=250, rows_total=1000)

    page = client.get(f"/admin/reporting/exportjob/{job.pk}/change/").content.decode()
    status = client.get(f"/admin/reporting/exportjob/{job.pk}/status/").json()

    assert 'id="console-export-bar" max="100" value="25"' in page
    assert status == {"status": "running", "label": "Running", "rows_done": 250, "rows_total": 1000, "percent": 25,
                      "error": "", "download_url": ""}


def test_the_requester_is_told_once_on_the_next_admin_page(client, marketer):
    ready = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="ready.csv",
                                     status=ExportJob.Status.DONE, rows_done=12)

    first = client.get("/admin/").content.decode()
    second = client.get("/admin/").content.decode()

    assert "Your export ready.csv is ready (12 rows)" in first
    assert f"/admin/reporting/exportjob/{ready.pk}/download/" in first
    assert "Your export ready.csv" not in second


def test_another_persons_export_is_not_found(client, marketer):
    theirs = ExportJob.objects.create(requested_by=member_of(MARKETING, "colleague"), model="deliveries.delivery",
                                      file_name="theirs.csv", status=ExportJob.Status.DONE)

    assert client.get(f"/admin/reporting/exportjob/{theirs.pk}/download/").status_code == 404
    assert "theirs.csv" not in client.get("/admin/reporting/exportjob/").content.decode()


def test_a_requester_who_lost_the_right_to_the_list_gets_a_failed_export(marketer):
    job = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="x.csv")
    marketer.groups.clear()

    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and "could not be opened" in job.error
    assert not export_file_path(job).exists()


def test_one_worker_writes_a_job_and_a_stalled_one_is_taken_over(marketer, queued):
    job = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="x.csv",
                                   status=ExportJob.Status.RUNNING, updated_at=timezone.now())
    export_job_run(job_id=job.pk)  # another worker has it, alive
    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.RUNNING

    ExportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=6))
    export_job_run(job_id=job.pk)

    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.DONE


def test_tending_queues_lost_jobs_again_and_removes_old_ones_with_their_files(marketer, queued, settings,
                                                                             django_capture_on_commit_callbacks):
    old = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="old.csv",
                                   created_at=timezone.now() - timedelta(hours=25))
    export_job_run(job_id=old.pk)
    old.refresh_from_db()
    lost = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="lost.csv",
                                    created_at=timezone.now() - timedelta(minutes=2))
    assert export_file_path(old).exists()

    with django_capture_on_commit_callbacks(execute=True):
        removed = tend_export_jobs()

    assert removed == 1 and not ExportJob.objects.filter(pk=old.pk).exists() and not export_file_path(old).exists()
    assert queued == [lost.pk]


def test_file_names_carry_the_filters_and_the_date():
    params = QueryDict("status__exact=failed&partner__id__exact=3&q=dep 1&o=-1&p=2")
    moment = timezone.make_aware(timezone.datetime(2026, 12, 5, 14, 3))

    assert export_file_name("deliveries", params, now=moment) == (
        "deliveries_partner-3_search-dep-1_status-failed_2026-12-05_1403.csv"
    )


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_progress_is_written_while_the_file_is_and_the_job_finishes(marketer, monkeypatch):
    from reporting import export_jobs

    monkeypatch.setattr("reporting.csv_export.ROWS_PER_CHUNK", 1)
    monkeypatch.setattr(export_jobs, "PROGRESS_WRITE_SECONDS", 0)
    DeliveryFactory.create_batch(5, status=Delivery.Status.FAILED)
    job = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="x.csv")
    seen, table_chunks = [], export_jobs.table_chunks

    def watched_chunks(*args, **kwargs):  # what another process reads of the job after each chunk
        for text in table_chunks(*args, **kwargs):
            seen.append(ExportJob.objects.values_list("status", "rows_done").get(pk=job.pk))
            yield text

    monkeypatch.setattr(export_jobs, "table_chunks", watched_chunks)
    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == (ExportJob.Status.DONE, 5, 5), job.error
    assert len(_csv(export_file_path(job).read_text())) == 5
    assert seen == [(ExportJob.Status.RUNNING, rows) for rows in range(1, 6)]


def test_a_worker_whose_job_was_taken_over_changes_nothing_and_leaves_no_file(marketer, tmp_path):
    from reporting import export_jobs

    job = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="x.csv")
    slow = export_jobs._take(job.pk)  # a live worker, stuck in a long count
    ExportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=6))
    DeliveryFactory.create_batch(2)
    export_job_run(job_id=job.pk)  # another takes it over as stalled, and finishes
    done = ExportJob.objects.get(pk=job.pk)
    assert (done.status, done.attempt, done.rows_done) == (ExportJob.Status.DONE, slow.attempt + 1, 2)

    slow.rows_done = 99
    assert not export_jobs._update(slow, rows_total=99, updated_at=timezone.now())
    export_jobs._failed(slow, "late")
    partial = export_jobs._write(slow, (text for text in ["id\r\n"]))
    export_jobs._finish(slow, partial)

    after = ExportJob.objects.get(pk=job.pk)
    assert (after.status, after.attempt, after.rows_done, after.rows_total, after.error, after.updated_at) == (
        ExportJob.Status.DONE, done.attempt, 2, 2, "", done.updated_at)
    assert not partial.exists() and not export_file_path(slow).exists()
    assert len(_csv(export_file_path(after).read_text())) == 2


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_a_slow_worker_taken_over_mid_export_does_not_touch_the_new_attempt(marketer, monkeypatch):
    import threading

    from django.db import connection, connections

    from reporting import export_jobs

    monkeypatch.setattr("reporting.csv_export.ROWS_PER_CHUNK", 1)
    monkeypatch.setattr(export_jobs, "PROGRESS_WRITE_SECONDS", 0)
    DeliveryFactory.create_batch(4)
    job = ExportJob.objects.create(requested_by=marketer, model="deliveries.delivery", file_name="x.csv")
    table_chunks, seen = export_jobs.table_chunks, {}

    def other_worker():  # its own thread, so its own connection: the first worker's is mid-export
        try:
            ExportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=6))
            seen["first"] = ExportJob.objects.get(pk=job.pk).attempt
            export_job_run(job_id=job.pk)
            seen["done"] = ExportJob.objects.get(pk=job.pk)
        finally:
            connections.close_all()

    def slow_chunks(*args, **kwargs):
        for number, text in enumerate(table_chunks(*args, **kwargs)):
            yield text
            if number == 1 and not seen:  # the first worker is mid-export when the job is taken over
                thread = threading.Thread(target=other_worker)
                thread.start()
                thread.join()

    monkeypatch.setattr(export_jobs, "table_chunks", slow_chunks)
    export_job_run(job_id=job.pk)

    done, after = seen["done"], ExportJob.objects.get(pk=job.pk)
    assert (done.status, done.attempt, done.rows_done) == (ExportJob.Status.DONE, seen["first"] + 1, 4)
    assert (after.status, after.attempt, after.rows_done, after.updated_at, after.finished_at) == (
        done.status, done.attempt, 4, done.updated_at, done.finished_at)
    files = sorted(path.name for path in export_file_path(after).parent.iterdir())
    assert files == [f"export-{job.pk}-{done.attempt}.csv"]
    assert len(_csv(export_file_path(after).read_text())) == 4


def test_select_all_across_a_long_list_exports_in_the_background_and_ticked_rows_at_once(
        client, marketer, queued, django_capture_on_commit_callbacks):
    failed = DeliveryFactory.create_batch(3, status=Delivery.Status.FAILED)
    DeliveryFactory(status=Delivery.Status.DELIVERED)
    changelist = "/admin/deliveries/delivery/?status__exact=failed"

    ticked = client.post(changelist, {"action": "export_csv", "_selected_action": [row.pk for row in failed]})
    assert ticked["Content-Type"].startswith("text/csv") and not ExportJob.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(changelist, {"action": "export_csv", "select_across": "1",
                                            "_selected_action": [failed[0].pk]})

    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/reporting/exportjob/{job.pk}/change/"
    assert queued == [job.pk] and job.query_string == "status__exact=failed"
    assert job.file_name.startswith("deliveries-selected_status-failed_")
    export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE
    assert sorted(row["id"] for row in _csv(export_file_path(job).read_text())) == sorted(str(d.pk) for d in failed)


def test_exports_have_a_queue_and_a_worker_of_their_own():
    from pathlib import Path

    from postback_platform.celery import app

    assert app.amqp.router.route({}, "reporting.tasks.run_export_job")["queue"].name == "exports"
    assert app.amqp.router.route({}, "deliveries.tasks.send_due_deliveries")["queue"].name != "exports"
    root = Path(__file__).resolve().parents[2]
    for procfile in ("Procfile", "Procfile.dev"):
        lines = dict(line.split(": ", 1) for line in (root / procfile).read_text().splitlines() if line.strip())
        assert " -Q exports " in lines["exports"] and " -Q " not in lines["worker"]
