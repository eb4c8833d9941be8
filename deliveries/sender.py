"""The sender: claim due deliveries in batches, send them concurrently, record the outcomes in bulk.

One pass of ``deliveries_send_due``:

1. claim up to ``POSTBACK_SENDER_BATCH_SIZE`` due deliveries with a lease
   (``claimed_until``) in one statement; on PostgreSQL ``FOR UPDATE SKIP
   LOCKED`` lets many senders on many hosts claim side by side, each row going
   to exactly one of them;
2. give back at once what the endpoints' rate limits do not allow this second;
3. render and sign each request and write its attempt row (``in_flight``)
   before anything is sent, so a crash leaves a trace;
4. send them on a thread pool over keep-alive connections; while requests
   are out, renew the batch's lease every third of ``POSTBACK_LEASE_SECONDS``,
   and stop working on what a renewal finds is no longer leased to this sender
   (cancelled, or taken over after a stall): it is not sent if it has not gone
   out yet, and its outcome is not written over the new owner's;
5. write attempts, delivery outcomes and the endpoints' failure runs back in
   one transaction.

A batch travels as plain rows (tuples, one small ``Job`` per delivery), not
model instances: building and saving five model objects per postback was
most of a sender's CPU. It loops while work is due, within a time budget. A
worker that dies stops renewing: its claims are free when the lease ends,
and any sender takes them again.
"""

import logging
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from monitoring import observe
from partners.models import AUTO_PAUSE_REASON_PREFIX, Partner, PostbackEndpoint
from partners.selectors import payout_rules_by_partner_type
from postback_platform.rows import rows_insert

from . import http, ratelimit, retry, signing
from .bulk import db_datetime, rows_update
from .models import Delivery, DeliveryAttempt
from .rendering import EVENT_LOOKUPS, EventView, RenderedRequest, event_request
from .templating import TemplateError

logger = logging.getLogger(__name__)

ATTEMPT_START_FIELDS = (
    "delivery_id", "number", "started_at", "request_method", "request_url", "request_headers", "request_body",
)
ATTEMPT_RESULT_FIELDS = (
    "outcome", "finished_at", "duration_ms", "status_code", "response_excerpt", "error", "error_class",
)
DELIVERY_OUTCOME_FIELDS = (
    "status", "next_attempt_at", "claimed_until", "claimed_by", "delivered_at", "last_status_code", "last_error",
    "request_method", "request_url", "request_body", "updated_at",
)
RENEWALS_PER_LEASE = 3
_OUTCOMES = {
    http.Verdict.SUCCESS: DeliveryAttempt.Outcome.SUCCESS,
    http.Verdict.TRANSIENT: DeliveryAttempt.Outcome.RETRY,
    http.Verdict.PERMANENT: DeliveryAttempt.Outcome.FAILURE,
}
NOT_SENT = http.HttpResult(
    verdict=http.Verdict.TRANSIENT, duration_ms=0, error_class="lease_lost",
    error="not sent: the delivery was cancelled or taken over by another sender before its turn",
)


@dataclass(slots=True, eq=False)
class Job:
    """One claimed delivery: what the claim read, the request, and the outcome to write back.

    Its attributes carry a Delivery's names where monitoring.observe reads them.
    """

    pk: int
    endpoint: PostbackEndpoint
    event: EventView
    event_type_id: str
    attempt_count: int
    retry_base: int
    is_test: bool
    request: http.OutboundRequest | None = None
    result: http.HttpResult | None = None
    attempt: "Attempt | None" = None
    held: bool = True  # still leased to this sender, as far as the last renewal knows
    status: str = ""
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str = ""

    @property
    def endpoint_id(self) -> int:
        return self.endpoint.pk

    @property
    def partner(self) -> Partner:
        return self.endpoint.partner


@dataclass(slots=True, eq=False)
class Attempt:
    """The attempt row being written, with DeliveryAttempt's field names (monitoring.observe reads them)."""

    delivery: Job
    number: int
    outcome: str = DeliveryAttempt.Outcome.IN_FLIGHT
    duration_ms: int | None = None
    status_code: int | None = None
    response_excerpt: str = ""
    error: str = ""
    error_class: str = ""


def deliveries_send_due(*, worker: str) -> int:
    """Send what is due until nothing is, or the time budget is spent; returns how many were attempted."""
    deadline = time.monotonic() + settings.POSTBACK_SENDER_TIME_BUDGET_SECONDS
    attempted = 0
    while time.monotonic() < deadline:
        leased_at = time.monotonic()
        # The claim and the attempt rows commit together: one commit per batch fewer.
        with transaction.atomic():
            ids = deliveries_claim_due(worker=worker, limit=settings.POSTBACK_SENDER_BATCH_SIZE)
            jobs = _claimed_jobs(ids=ids, worker=worker)
        _send_and_record(jobs, worker, leased_at)
        attempted += len(jobs)
        if len(ids) == settings.POSTBACK_SENDER_BATCH_SIZE:
            continue
        # Work due within the next second (a rate-limited backlog, a short
        # Retry-After) is cheaper to wait for here than to leave to the next beat.
        wait_seconds = seconds_until_next_due()
        if wait_seconds is None or wait_seconds > min(1.0, deadline - time.monotonic()):
            break
        time.sleep(max(wait_seconds, 0.01))
    return attempted


def deliveries_claim_due(*, worker: str, limit: int, now: datetime | None = None) -> list[int]:
    """Lease up to ``limit`` due deliveries of active endpoints to ``worker``; returns their ids."""
    now = now or timezone.now()
    lease_end = now + timedelta(seconds=settings.POSTBACK_LEASE_SECONDS)
    delivery, endpoint, partner = (model._meta.db_table for model in (Delivery, PostbackEndpoint, Partner))
    lock = f"FOR UPDATE OF {delivery} SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    # The partial index delivery_due serves the inner SELECT: open rows by next_attempt_at, read in
    # order up to the limit. Right after a burst, before ANALYZE has seen it, PostgreSQL would rather
    # fetch every due row and sort them (10-20 ms a claim at 5,000 due, growing with the backlog);
    # without the sort it reads the index in order whatever the statistics say (for this statement only).
    postgresql = connection.vendor == "postgresql"
    sql = ("SET LOCAL enable_sort = off; " if postgresql else "") + f"""
        UPDATE {delivery} SET claimed_until = %s, claimed_by = %s
        WHERE id IN (
            SELECT {delivery}.id FROM {delivery}
            JOIN {endpoint} ON {endpoint}.id = {delivery}.endpoint_id
            JOIN {partner} ON {partner}.id = {delivery}.partner_id
            WHERE {delivery}.status IN (%s, %s) AND {delivery}.next_attempt_at <= %s
              AND ({delivery}.claimed_until IS NULL OR {delivery}.claimed_until < %s)
              AND {endpoint}.is_active = %s AND {partner}.is_active = %s
            ORDER BY {delivery}.next_attempt_at
            LIMIT %s {lock}
        )
        RETURNING id
    """  # noqa: S608 - table names come from model metadata, values are parameters
    params = [db_datetime(lease_end), worker, *Delivery.OPEN_STATUSES, db_datetime(now), db_datetime(now), True, True,
              limit]
    # One statement: atomic on its own, and part of the caller's transaction when there is one.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
        if postgresql:
            cursor.execute("RESET enable_sort")
    return ids


def deliveries_lease_renew(*, ids: list[int], worker: str, now: datetime | None = None) -> set[int]:
    """Extend the lease of those of ``ids`` still leased to ``worker``; returns their ids (the rest are lost)."""
    if not ids:
        return set()
    now = now or timezone.now()
    lease_end = now + timedelta(seconds=settings.POSTBACK_LEASE_SECONDS)
    table = Delivery._meta.db_table
    sql = (
        f"UPDATE {table} SET claimed_until = %s WHERE claimed_by = %s "  # noqa: S608 - the table name is model metadata
        f"AND id IN ({', '.join(['%s'] * len(ids))}) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_datetime(lease_end), worker, *ids])
        return {row[0] for row in cursor.fetchall()}


def seconds_until_next_due() -> float | None:
    now = timezone.now()
    earliest = (
        Delivery.objects.filter(
            status__in=Delivery.OPEN_STATUSES, endpoint__is_active=True, partner__is_active=True
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .aggregate(earliest=Min("next_attempt_at"))["earliest"]
    )
    return None if earliest is None else (earliest - now).total_seconds()


def deliveries_send_claimed(*, ids: list[int], worker: str) -> int:
    """Send deliveries already leased to ``worker``; returns how many were attempted."""
    leased_at = time.monotonic()
    with transaction.atomic():
        jobs = _claimed_jobs(ids=ids, worker=worker)
    _send_and_record(jobs, worker, leased_at)
    return len(jobs)


def _claimed_jobs(*, ids: list[int], worker: str) -> list[Job]:
    """The claimed deliveries ready to send, their attempts written; the rate-limited ones are given back."""
    if not ids:
        return []
    rows = Delivery.objects.filter(id__in=ids, claimed_by=worker).values_list(
        "id", "endpoint_id", "event_type_id", "attempt_count", "retry_base", "is_test",
        *EVENT_LOOKUPS,
    )
    rows = list(rows)
    endpoints = PostbackEndpoint.objects.select_related("partner").in_bulk({row[1] for row in rows})
    jobs = [
        Job(pk=pk, endpoint=endpoints[endpoint_id], event_type_id=event_type, attempt_count=attempts,
            retry_base=retry_base, is_test=is_test, event=EventView(*event))
        for pk, endpoint_id, event_type, attempts, retry_base, is_test, *event in rows
    ]
    ready, deferred = _apply_rate_limits(jobs, time.time())
    _release_deferred(deferred, worker, timezone.now())
    return _prepare(ready)


def _send_and_record(jobs: list[Job], worker: str, leased_at: float) -> None:
    if jobs:
        _send_all(jobs, worker, leased_at)
        _record(jobs, worker)


def _apply_rate_limits(jobs: list[Job], now: float) -> tuple[list[Job], dict[int, float]]:
    """Split into what may go now and, for the rest, how many seconds each waits."""
    by_endpoint: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        by_endpoint[job.endpoint_id].append(job)
    ready, deferred = [], {}
    for endpoint_id, group in by_endpoint.items():
        limit = group[0].endpoint.rate_limit_per_second
        allowed = len(group) if not limit else ratelimit.rate_limit_take(
            endpoint_id=endpoint_id, limit=limit, wanted=len(group), now=now
        )
        ready.extend(group[:allowed])
        for position, job in enumerate(group[allowed:]):
            deferred[job.pk] = ratelimit.deferral_seconds(position=position, limit=limit, now=now)
    return ready, deferred


def outbound_request(*, endpoint: PostbackEndpoint, rendered: RenderedRequest, msg_id: str) -> http.OutboundRequest:
    """The rendered request with its Standard Webhooks headers, ready for the HTTP module."""
    now = timezone.now()
    payload = signing.signing_payload(method=rendered.method, url=rendered.url, body=rendered.body)
    headers = rendered.headers | signing.webhook_headers(
        msg_id=msg_id,
        timestamp=int(now.timestamp()),
        payload=payload,
        secrets_in_use=signing.active_secrets(endpoint, now),
    )
    return http.OutboundRequest(
        method=rendered.method,
        url=rendered.url,
        headers=headers,
        body=rendered.body,
        timeout_seconds=float(endpoint.timeout_seconds),
        success_body_contains=endpoint.success_body_contains,
    )


def _prepare(jobs: list[Job]) -> list[Job]:
    rules = payout_rules_by_partner_type(job.endpoint.partner_id for job in jobs)
    now = timezone.now()
    # Only a delivery tried before can have an attempt its sender never finished.
    _close_lost_attempts([job.pk for job in jobs if job.attempt_count], now)
    for job in jobs:
        _render(job, rules)
        job.attempt_count += 1
        job.attempt = Attempt(delivery=job, number=job.attempt_count)
    rows_insert(DeliveryAttempt, columns=ATTEMPT_START_FIELDS, rows=[_attempt_start(job, now) for job in jobs])
    Delivery.objects.filter(id__in=[job.pk for job in jobs]).update(attempt_count=F("attempt_count") + 1)
    return jobs


def _render(job: Job, rules: dict) -> None:
    try:
        rendered = event_request(
            endpoint=job.endpoint, event=job.event, event_type=job.event_type_id,
            partner_slug=job.partner.slug, delivery_id=job.pk,
            rule=rules.get((job.endpoint.partner_id, job.event_type_id)),
        )
    except TemplateError as exc:
        # Saved templates are validated; this catches one changed behind the validation's back.
        job.result = http.HttpResult(
            verdict=http.Verdict.PERMANENT, duration_ms=0, error=f"template: {exc}", error_class="template"
        )
        return
    job.request = outbound_request(endpoint=job.endpoint, rendered=rendered, msg_id=str(job.pk))


def _attempt_start(job: Job, started_at) -> tuple:
    request = job.request
    method, url, body = (request.method, request.url, request.body) if request else (job.endpoint.method, "", "")
    headers = signing.headers_for_record(request.headers) if request else {}
    return (job.pk, job.attempt_count, started_at, method, url, headers, body)


def _close_lost_attempts(delivery_ids: list[int], now: datetime) -> None:
    """Attempts left in flight by a sender that died: their outcome is unknown, so they count as failed."""
    if not delivery_ids:
        return
    lost = DeliveryAttempt.objects.filter(
        delivery_id__in=delivery_ids, outcome=DeliveryAttempt.Outcome.IN_FLIGHT
    ).update(
        outcome=DeliveryAttempt.Outcome.RETRY,
        finished_at=now,
        error="the sender stopped before recording a response (worker lost); sent again",
        error_class="worker_lost",
    )
    observe.lost_attempts_closed(count=lost)


_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    # Created on first use, so each forked worker process gets its own threads.
    global _executor  # noqa: PLW0603
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.POSTBACK_SENDER_THREADS, thread_name_prefix="postback")
    return _executor


def _send_all(jobs: list[Job], worker: str, leased_at: float) -> None:
    """Send the jobs' requests, renewing their lease every third of it until the last answer is in."""
    futures: dict[Future, Job] = {_pool().submit(http.send, job.request): job for job in jobs if job.result is None}
    lease = settings.POSTBACK_LEASE_SECONDS
    every = lease / RENEWALS_PER_LEASE
    renew_at, lease_ends = leased_at + every, leased_at + lease
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=max(0.0, renew_at - time.monotonic()))
        for future in done:
            futures[future].result = NOT_SENT if future.cancelled() else future.result()
        if pending and time.monotonic() >= renew_at:
            renewed_at = time.monotonic()
            if _renew(jobs, worker, futures):
                lease_ends = renewed_at + lease
            elif time.monotonic() + every >= lease_ends:
                # The lease may pass to another sender before the next try: send nothing more of this batch.
                _let_go(jobs, futures)
            renew_at = time.monotonic() + every


def _renew(jobs: list[Job], worker: str, futures: dict[Future, Job]) -> bool:
    """Extend the lease of what this sender still holds; False when the database could not be asked."""
    try:
        held = deliveries_lease_renew(ids=[job.pk for job in jobs if job.held], worker=worker)
    except DatabaseError:
        logger.warning("could not renew the lease of %d deliveries; retrying while the lease lasts", len(jobs),
                       exc_info=True)
        connection.close()  # a broken connection is replaced on the next query
        return False
    for job in jobs:
        job.held = job.pk in held
    # A request already on the wire cannot be called back; one still queued is not sent.
    for future, job in futures.items():
        if not job.held:
            future.cancel()
    return True


def _let_go(jobs: list[Job], futures: dict[Future, Job]) -> None:
    for job in jobs:
        job.held = False
    for future in futures:
        future.cancel()


def _record(jobs: list[Job], worker: str) -> None:
    now = timezone.now()
    for job in jobs:
        _finish(job, now)
    stamp = db_datetime(now)
    kept = [job for job in jobs if job.held]
    with transaction.atomic():
        rows_update(DeliveryAttempt, ("delivery_id", "number"), ATTEMPT_RESULT_FIELDS, [
            (job.pk, job.attempt.number, job.attempt.outcome, stamp, job.attempt.duration_ms, job.attempt.status_code,
             job.attempt.response_excerpt, job.attempt.error, job.attempt.error_class) for job in jobs
        ])
        # Only rows still leased to this sender: a cancel or an expired lease has taken the others away.
        recorded = set(rows_update(Delivery, ("id",), DELIVERY_OUTCOME_FIELDS, [
            _outcome_row(job, stamp) for job in kept
        ], where={"claimed_by": worker}, returning="id"))
        endpoint_failure_runs_record(jobs=[job for job in jobs if job.result is not NOT_SENT], now=now)
    observe.attempts_recorded(attempts=[job.attempt for job in kept if job.pk in recorded])


def _finish(job: Job, now: datetime) -> None:
    """The attempt's result, and the delivery's outcome: delivered, retried on the schedule, or failed for good."""
    attempt, result = job.attempt, job.result
    attempt.outcome = _OUTCOMES[result.verdict]
    attempt.duration_ms, attempt.status_code = result.duration_ms, result.status_code
    attempt.response_excerpt, attempt.error, attempt.error_class = result.response_excerpt, result.error, result.error_class
    job.last_error = result.error
    failed_in_a_row = job.attempt_count - job.retry_base
    if result.verdict == http.Verdict.SUCCESS:
        job.status, job.delivered_at, job.next_attempt_at = Delivery.Status.DELIVERED, now, None
    elif result.verdict == http.Verdict.TRANSIENT and failed_in_a_row < job.endpoint.max_attempts:
        job.status = Delivery.Status.RETRYING
        job.next_attempt_at = retry.next_attempt_at(
            now=now, failed_attempts=failed_in_a_row, retry_after_seconds=result.retry_after_seconds
        )
    else:
        job.status, job.next_attempt_at = Delivery.Status.FAILED, None
        if result.verdict == http.Verdict.TRANSIENT:
            attempt.outcome = DeliveryAttempt.Outcome.FAILURE
            job.last_error = f"{result.error} (attempts exhausted: {failed_in_a_row})"


def _outcome_row(job: Job, stamp) -> tuple:
    request = job.request
    method, url, body = (request.method, request.url, request.body) if request else ("", "", "")
    next_attempt = db_datetime(job.next_attempt_at) if job.next_attempt_at else None
    delivered = db_datetime(job.delivered_at) if job.delivered_at else None
    return (job.pk, job.status, next_attempt, None, "", delivered, job.result.status_code, job.last_error,
            method, url, body, stamp)


def _release_deferred(waits: dict[int, float], worker: str, now: datetime) -> None:
    """Rate-limited deliveries go back, due again when the limit lets them through; no attempt is used."""
    by_wait: dict[float, list[int]] = defaultdict(list)
    for pk, wait_seconds in waits.items():
        by_wait[round(wait_seconds, 3)].append(pk)
    for wait_seconds, ids in by_wait.items():
        Delivery.objects.filter(id__in=ids, claimed_by=worker).update(
            next_attempt_at=now + timedelta(seconds=wait_seconds), claimed_until=None, claimed_by=""
        )


def endpoint_failure_runs_record(*, jobs: list[Job], now: datetime) -> None:
    """Keep each endpoint's run of consecutive failed attempts, and pause it when the run gets too long."""
    runs: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        runs[job.endpoint_id].append(job)
    for endpoint_id, endpoint_jobs in runs.items():
        _record_run(endpoint_id, endpoint_jobs, now)


def _record_run(endpoint_id: int, jobs: list[Job], now: datetime) -> None:
    verdicts = [job.result.verdict for job in jobs]
    endpoint = PostbackEndpoint.objects.filter(pk=endpoint_id)
    if http.Verdict.SUCCESS in verdicts:
        trailing = len(verdicts) - 1 - max(i for i, v in enumerate(verdicts) if v == http.Verdict.SUCCESS)
        # A healthy endpoint (the common case) costs no statement and takes no row lock.
        if jobs[0].endpoint.consecutive_failures != trailing:
            endpoint.exclude(consecutive_failures=trailing).update(consecutive_failures=trailing)
        return
    endpoint.update(consecutive_failures=F("consecutive_failures") + len(verdicts))
    last_error = jobs[-1].result.error[:300]
    threshold = jobs[0].endpoint.auto_pause_after
    endpoint.filter(
        is_active=True, auto_pause_after__gt=0, consecutive_failures__gte=F("auto_pause_after")
    ).update(
        is_active=False,
        paused_at=now,
        pause_reason=(
            f"{AUTO_PAUSE_REASON_PREFIX} after {threshold} consecutive failed attempts; last error: {last_error}"
        ),
    )
