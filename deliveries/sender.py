"""The sender: claim due deliveries in batches, send them concurrently, record the outcomes in bulk.

One pass of ``deliveries_send_due``:

1. claim up to ``POSTBACK_SENDER_BATCH_SIZE`` due deliveries with a lease
   (``claimed_until``) in one statement; on PostgreSQL ``FOR UPDATE SKIP
   LOCKED`` lets many senders on many hosts claim side by side, each row going
   to exactly one of them;
2. hold back what the endpoints' rate limits do not allow this second;
3. render and sign each request and write its attempt row (``in_flight``)
   before anything is sent, so a crash leaves a trace;
4. send them on a thread pool over keep-alive connections;
5. write attempts, delivery outcomes and the endpoints' failure runs back in
   one transaction.

It loops while work is due, within a time budget. A worker that dies holds
its claims only until the lease ends; then any sender takes them again.
"""

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from monitoring import observe
from partners.models import Partner, PostbackEndpoint
from partners.selectors import payout_rules_by_partner_type

from . import http, ratelimit, retry, signing
from .bulk import rows_update
from .models import Delivery, DeliveryAttempt
from .rendering import RenderedRequest, event_request
from .templating import TemplateError

ATTEMPT_RESULT_FIELDS = [
    "outcome", "finished_at", "duration_ms", "status_code", "response_excerpt", "error", "error_class",
]
DELIVERY_OUTCOME_FIELDS = [
    "status", "next_attempt_at", "claimed_until", "claimed_by", "delivered_at", "last_status_code", "last_error",
]
_OUTCOMES = {
    http.Verdict.SUCCESS: DeliveryAttempt.Outcome.SUCCESS,
    http.Verdict.TRANSIENT: DeliveryAttempt.Outcome.RETRY,
    http.Verdict.PERMANENT: DeliveryAttempt.Outcome.FAILURE,
}


@dataclass
class Job:
    delivery: Delivery
    request: http.OutboundRequest | None = None
    attempt: DeliveryAttempt | None = None
    result: http.HttpResult | None = None


def deliveries_send_due(*, worker: str) -> int:
    """Send what is due until nothing is, or the time budget is spent; returns how many were attempted."""
    deadline = time.monotonic() + settings.POSTBACK_SENDER_TIME_BUDGET_SECONDS
    attempted = 0
    while time.monotonic() < deadline:
        # The claim and the attempt rows commit together: one commit per batch fewer.
        with transaction.atomic():
            ids = deliveries_claim_due(worker=worker, limit=settings.POSTBACK_SENDER_BATCH_SIZE)
            jobs, deferred = _claimed_jobs(ids=ids, worker=worker)
        _send_and_record(jobs, deferred, worker)
        attempted += len(jobs)
        if len(ids) == settings.POSTBACK_SENDER_BATCH_SIZE:
            continue
        # Work due within the next second (a rate-limited backlog, a short
        # Retry-After) is cheaper to wait for here than to leave to the next beat.
        wait = seconds_until_next_due()
        if wait is None or wait > min(1.0, deadline - time.monotonic()):
            break
        time.sleep(max(wait, 0.01))
    return attempted


def deliveries_claim_due(*, worker: str, limit: int, now: datetime | None = None) -> list[int]:
    """Lease up to ``limit`` due deliveries of active endpoints to ``worker``; returns their ids."""
    now = now or timezone.now()
    lease_end = now + timedelta(seconds=settings.POSTBACK_LEASE_SECONDS)
    delivery, endpoint, partner = (model._meta.db_table for model in (Delivery, PostbackEndpoint, Partner))
    lock = f"FOR UPDATE OF {delivery} SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    # The partial index delivery_due serves the inner SELECT: open rows by next_attempt_at.
    sql = f"""
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
    stamp = connection.ops.adapt_datetimefield_value
    params = [stamp(lease_end), worker, *Delivery.OPEN_STATUSES, stamp(now), stamp(now), True, True, limit]
    # One statement: atomic on its own, and part of the caller's transaction when there is one.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


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
    jobs, deferred = _claimed_jobs(ids=ids, worker=worker)
    _send_and_record(jobs, deferred, worker)
    return len(jobs)


def _claimed_jobs(*, ids: list[int], worker: str) -> tuple[list[Job], dict[int, float]]:
    if not ids:
        return [], {}
    deliveries = list(
        Delivery.objects.filter(id__in=ids, claimed_by=worker).select_related("event", "endpoint", "partner")
    )
    ready, deferred = _apply_rate_limits(deliveries, time.time())
    return _prepare(ready), deferred


def _send_and_record(jobs: list[Job], deferred: dict[int, float], worker: str) -> None:
    if jobs or deferred:
        _send_all(jobs)
        _record(jobs, deferred, worker)


def _apply_rate_limits(deliveries: list[Delivery], now: float) -> tuple[list[Delivery], dict[int, float]]:
    """Split into what may go now and, for the rest, how many seconds each waits."""
    by_endpoint: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_endpoint[delivery.endpoint_id].append(delivery)
    ready, deferred = [], {}
    for endpoint_id, group in by_endpoint.items():
        limit = group[0].endpoint.rate_limit_per_second
        allowed = len(group) if not limit else ratelimit.rate_limit_take(
            endpoint_id=endpoint_id, limit=limit, wanted=len(group), now=now
        )
        ready.extend(group[:allowed])
        for position, delivery in enumerate(group[allowed:]):
            deferred[delivery.pk] = ratelimit.deferral_seconds(position=position, limit=limit, now=now)
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


def delivery_render(delivery: Delivery, payout_rules: dict) -> RenderedRequest:
    return event_request(
        endpoint=delivery.endpoint,
        event=delivery.event,
        event_type=delivery.event_type_id,
        partner_slug=delivery.partner.slug,
        delivery_id=delivery.pk,
        rule=payout_rules.get((delivery.partner_id, delivery.event_type_id)),
    )


def _prepare(deliveries: list[Delivery]) -> list[Job]:
    rules = payout_rules_by_partner_type(delivery.partner_id for delivery in deliveries)
    jobs = [_job(delivery, rules) for delivery in deliveries]
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        # Only a delivery tried before can have an attempt its sender never finished.
        _close_lost_attempts([job.delivery.pk for job in jobs if job.delivery.attempt_count], now)
        for job in jobs:
            job.delivery.attempt_count += 1
            job.attempt = _attempt_row(job, now)
        DeliveryAttempt.objects.bulk_create([job.attempt for job in jobs])
        rows_update([job.delivery for job in jobs], ["attempt_count", "request_method", "request_url", "request_body"])
    return jobs


def _job(delivery: Delivery, rules: dict) -> Job:
    try:
        rendered = delivery_render(delivery, rules)
    except TemplateError as exc:
        # Saved templates are validated; this catches one changed behind the validation's back.
        failure = http.HttpResult(
            verdict=http.Verdict.PERMANENT, duration_ms=0, error=f"template: {exc}", error_class="template"
        )
        return Job(delivery=delivery, result=failure)
    request = outbound_request(endpoint=delivery.endpoint, rendered=rendered, msg_id=str(delivery.pk))
    delivery.request_method, delivery.request_url, delivery.request_body = request.method, request.url, request.body
    return Job(delivery=delivery, request=request)


def _attempt_row(job: Job, now: datetime) -> DeliveryAttempt:
    request = job.request
    return DeliveryAttempt(
        delivery=job.delivery,
        number=job.delivery.attempt_count,
        started_at=now,
        request_method=request.method if request else job.delivery.endpoint.method,
        request_url=request.url if request else "",
        request_headers=signing.headers_for_record(request.headers) if request else {},
        request_body=request.body if request else "",
    )


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


def _send_all(jobs: list[Job]) -> None:
    to_send = [job for job in jobs if job.result is None]
    for job, result in zip(to_send, _pool().map(http.send, [job.request for job in to_send]), strict=True):
        job.result = result


def _record(jobs: list[Job], deferred: dict[int, float], worker: str) -> None:
    now = timezone.now()
    for job in jobs:
        _finish_attempt(job.attempt, job.result, now)
    outcomes = [_apply_outcome(job, now) for job in jobs]
    with transaction.atomic():
        rows_update([job.attempt for job in jobs], ATTEMPT_RESULT_FIELDS)
        # Only rows still leased to this sender: a cancel or an expired lease has taken the others away.
        rows_update(outcomes, DELIVERY_OUTCOME_FIELDS, where={"claimed_by": worker})
        _release_deferred(deferred, worker, now)
        endpoint_failure_runs_record(jobs=jobs, now=now)
    observe.attempts_recorded(attempts=[job.attempt for job in jobs])


def _finish_attempt(attempt: DeliveryAttempt, result: http.HttpResult, now: datetime) -> None:
    attempt.outcome = _OUTCOMES[result.verdict]
    attempt.finished_at = now
    attempt.duration_ms = result.duration_ms
    attempt.status_code = result.status_code
    attempt.response_excerpt = result.response_excerpt
    attempt.error = result.error
    attempt.error_class = result.error_class


def _apply_outcome(job: Job, now: datetime) -> Delivery:
    delivery, result = job.delivery, job.result
    delivery.claimed_until, delivery.claimed_by = None, ""
    delivery.last_status_code, delivery.last_error = result.status_code, result.error
    failed_in_a_row = delivery.attempt_count - delivery.retry_base
    if result.verdict == http.Verdict.SUCCESS:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = Delivery.Status.DELIVERED, now, None
    elif result.verdict == http.Verdict.TRANSIENT and failed_in_a_row < delivery.endpoint.max_attempts:
        delivery.status = Delivery.Status.RETRYING
        delivery.next_attempt_at = retry.next_attempt_at(
            now=now, failed_attempts=failed_in_a_row, retry_after_seconds=result.retry_after_seconds
        )
    else:
        delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        if result.verdict == http.Verdict.TRANSIENT:
            job.attempt.outcome = DeliveryAttempt.Outcome.FAILURE
            delivery.last_error = f"{result.error} (attempts exhausted: {failed_in_a_row})"
    return delivery


def _release_deferred(waits: dict[int, float], worker: str, now: datetime) -> None:
    """Rate-limited deliveries go back, due again when the limit lets them through; no attempt is used."""
    by_wait: dict[float, list[int]] = defaultdict(list)
    for pk, wait in waits.items():
        by_wait[round(wait, 3)].append(pk)
    for wait, ids in by_wait.items():
        Delivery.objects.filter(id__in=ids, claimed_by=worker).update(
            next_attempt_at=now + timedelta(seconds=wait), claimed_until=None, claimed_by=""
        )


def endpoint_failure_runs_record(*, jobs: list[Job], now: datetime) -> None:
    """Keep each endpoint's run of consecutive failed attempts, and pause it when the run gets too long."""
    runs: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        runs[job.delivery.endpoint_id].append(job)
    for endpoint_id, endpoint_jobs in runs.items():
        _record_run(endpoint_id, endpoint_jobs, now)


def _record_run(endpoint_id: int, jobs: list[Job], now: datetime) -> None:
    verdicts = [job.result.verdict for job in jobs]
    endpoint = PostbackEndpoint.objects.filter(pk=endpoint_id)
    if http.Verdict.SUCCESS in verdicts:
        trailing = len(verdicts) - 1 - max(i for i, v in enumerate(verdicts) if v == http.Verdict.SUCCESS)
        # A healthy endpoint (the common case) costs no statement and takes no row lock.
        if jobs[0].delivery.endpoint.consecutive_failures != trailing:
            endpoint.exclude(consecutive_failures=trailing).update(consecutive_failures=trailing)
        return
    endpoint.update(consecutive_failures=F("consecutive_failures") + len(verdicts))
    last_error = jobs[-1].result.error[:300]
    threshold = jobs[0].delivery.endpoint.auto_pause_after
    endpoint.filter(
        is_active=True, auto_pause_after__gt=0, consecutive_failures__gte=F("auto_pause_after")
    ).update(
        is_active=False,
        paused_at=now,
        pause_reason=f"Paused automatically after {threshold} consecutive failed attempts; last error: {last_error}",
    )
