"""The sender: claim due deliveries, keep their transfers in flight, record each outcome as it comes.

One sender (a Celery worker's ``deliveries_send_due`` task, or the listening
sender of ``listener``) works as a pipeline on one thread:

1. while fewer than ``POSTBACK_SENDER_MAX_IN_FLIGHT`` transfers are out, claim
   more due deliveries with a lease (``claimed_until``), at most
   ``POSTBACK_ENDPOINT_CONCURRENCY`` in flight per endpoint across every
   sender, taking turns between endpoints with due work; an endpoint whose
   circuit is open gives only its probe (see ``circuit``);
2. give back at once what the endpoints' rate limits do not allow this second;
3. render and sign each request and write its attempt row (``in_flight``)
   before anything is sent, so a crash leaves a trace;
4. put them on libcurl's multi interface (``http.Transfers``) beside the
   transfers already out; nothing waits for a round, so a slow partner
   holds only its own slots;
5. write each finished transfer's attempt and outcome back, in bulk with
   whatever else finished at the same time; renew the lease of what is
   still out every third of ``POSTBACK_LEASE_SECONDS``, and drop what a
   renewal finds is no longer leased to this sender (cancelled, or taken
   over after a stall): its outcome is not written over the new owner's.

Whatever goes wrong with one delivery between claim and record (a partner's
answer, a template, a bug) is recorded on that delivery as an error and
never reaches the others. A batch travels as one ``Postback`` per delivery
(``records``), not model instances. A worker that dies stops renewing: its
claims are free when the lease ends, and any sender takes them again.
"""

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Min, OuterRef, Q, Subquery
from django.utils import timezone

from lib import http
from lib.rows import db_datetime, rows_insert, rows_update
from partners import signing
from partners.credentials import OAUTH2_TYPES
from partners.models import Partner, PostbackEndpoint
from partners.selectors import payout_rules_by_partner_type
from partners.templating import TemplateError

from . import circuit, oauth2, ratelimit, retry
from .auth import Secrets, authorization
from .masking import scrub
from .models import Delivery, DeliveryAttempt
from .records import Postback, rows_of
from .rendering import EVENT_LOOKUPS, EventView, RenderedRequest, event_request
from .selectors import behind_an_earlier_one
from .signals import attempts_lost, attempts_recorded

logger = logging.getLogger(__name__)

# The columns the sender writes, read off each Postback by these names.
CLAIM_FIELDS = ("id", "endpoint_id", "event_type_id", "attempt_count", "retry_base", "is_test")
ATTEMPT_START_FIELDS = (
    "delivery_id", "number", "started_at", "request_method", "request_url", "request_headers", "request_body",
)
ATTEMPT_KEYS = ("delivery_id", "number")
ATTEMPT_RESULT_FIELDS = (
    "outcome", "finished_at", "duration_ms", "status_code", "response_excerpt", "error", "error_class",
)
DELIVERY_OUTCOME_FIELDS = (
    "status", "next_attempt_at", "claimed_until", "claimed_by", "delivered_at", "last_status_code", "last_error",
    "request_method", "request_url", "request_body", "updated_at",
)
RENEWALS_PER_LEASE = 3
# While transfers are out, how often a sender claims newly due work and writes what has finished:
# an event committed meanwhile goes out within this, not after the transfers already out.
CYCLE_SECONDS = 0.02
# With nothing out and nothing claimable, how long to wait before looking again.
IDLE_POLL_SECONDS = 0.05
_OUTCOMES = {
    http.Verdict.SUCCESS: DeliveryAttempt.Outcome.SUCCESS,
    http.Verdict.TRANSIENT: DeliveryAttempt.Outcome.RETRY,
    http.Verdict.PERMANENT: DeliveryAttempt.Outcome.FAILURE,
}
NOT_SENT = http.HttpResult(
    verdict=http.Verdict.TRANSIENT, duration_ms=0, error_class="lease_lost",
    error="not finished: the delivery was cancelled or taken over by another sender while it was out",
)


def deliveries_send_due(
    *, worker: str, budget_seconds: float | None = None, wait: Callable[[float], object] = time.sleep,
    on_more_due: Callable[[], object] | None = None,
) -> int:
    """Send what is due until nothing is, or the time budget is spent; returns how many were attempted.

    ``wait(seconds)`` is how the sender waits for work due within a second; one that returns early when
    new work is committed (``listener``) lets that work go out at once instead of after the wait.
    ``on_more_due()`` is called once, the first time a claim is cut short by this sender's own room
    rather than by the endpoints' free slots: other senders could take the rest now.
    """
    if budget_seconds is None:
        budget_seconds = settings.POSTBACK_SENDER_TIME_BUDGET_SECONDS
    sender = _Sender(worker, wait=wait, on_more_due=on_more_due)
    return sender.run(deadline=time.monotonic() + budget_seconds)


def deliveries_send_claimed(*, ids: list[int], worker: str) -> int:
    """Send deliveries already leased to ``worker`` and record their outcomes; returns how many were attempted."""
    sender = _Sender(worker)
    with transaction.atomic():
        postbacks = _claimed_postbacks(ids=ids, worker=worker)
    sender.start(postbacks)
    return sender.run(deadline=time.monotonic(), claims=False)


class _Sender:
    """One sender's pipeline: what it has out, what has come back, and its lease."""

    def __init__(
        self, worker: str, *, wait: Callable[[float], object] = time.sleep,
        on_more_due: Callable[[], object] | None = None,
    ):
        self.worker = worker
        self.wait = wait
        self.on_more_due = on_more_due
        self.transfers = http.transfers()
        self.out: dict[int, Postback] = {}
        self.done: list[Postback] = []
        self.attempted = 0
        self.lease_ends: float | None = None
        self.renew_at = time.monotonic() + settings.POSTBACK_LEASE_SECONDS / RENEWALS_PER_LEASE

    def run(self, *, deadline: float, claims: bool = True) -> int:
        """Claim while the budget lasts, and until everything claimed is recorded; returns how many were attempted.

        While transfers are out, claims and writes happen at most every CYCLE_SECONDS: each round trip to
        the database then carries what a cycle gathered, not one postback. Once the budget is spent, the
        sender finishes what is out then. Until the last of those transfers is back it goes on claiming,
        for every endpoint but theirs, so a slow partner's last answers hold up no one else's postbacks; a
        sender therefore ends at most two endpoint timeouts after its budget. Without ``claims``, it sends
        only what it was given.
        """
        next_claim = next_record = 0.0
        out_at_deadline: set[int] | None = None
        while True:
            now = time.monotonic()
            room = settings.POSTBACK_SENDER_MAX_IN_FLIGHT - len(self.out)
            if now >= deadline and out_at_deadline is None:
                out_at_deadline = set(self.out)
            awaited = self._awaited(out_at_deadline)
            claiming = claims and (out_at_deadline is None or bool(awaited))
            if claiming and room > 0 and (now >= next_claim or not self.out):
                self._claim(room, exclude_endpoints=awaited)
                next_claim = now + CYCLE_SECONDS
            if self.out:
                # Drive the transfers until the next claim or write is due (there is none to wait for
                # when nothing has finished, or nothing more may be claimed).
                wake = next_claim if claiming else math.inf
                wake = min(wake, next_record) if self.done else wake
                self._collect(timeout=max(wake - time.monotonic(), 0.0))
            elif not self.done and not self._more_due_soon(deadline):
                break
            if self.done and (time.monotonic() >= next_record or not self.out):
                self._record_done()
                next_record = time.monotonic() + CYCLE_SECONDS
            if self.out and time.monotonic() >= self.renew_at:
                self._renew()
        return self.attempted

    def start(self, postbacks: list[Postback]) -> None:
        self.attempted += len(postbacks)
        _authorize([postback for postback in postbacks if postback.result is None and postback.needs_token])
        for postback in postbacks:
            if postback.result is None:
                postback.result = self.transfers.start(postback.request, postback.id)
            if postback.result is None:
                self.out[postback.id] = postback
            else:  # nothing to send (a template error, a refused target): recorded with the next outcomes
                self.done.append(postback)

    def _awaited(self, out_at_deadline: set[int] | None) -> set[int]:
        """The endpoints of the transfers out when the budget was spent that are not back yet."""
        if not out_at_deadline:
            return set()
        out_at_deadline.intersection_update(self.out)
        return {self.out[pk].endpoint_id for pk in out_at_deadline}

    def _claim(self, room: int, *, exclude_endpoints: Collection[int] = ()) -> None:
        claimed_at = time.monotonic()
        try:
            with transaction.atomic():
                ids = deliveries_claim_due(worker=self.worker, limit=room, exclude_endpoints=exclude_endpoints)
                postbacks = _claimed_postbacks(ids=ids, worker=self.worker)
        except DatabaseError:
            logger.warning("could not claim due deliveries; trying again shortly", exc_info=True)
            connection.close()  # a broken connection is replaced on the next query
            return
        if postbacks and self.lease_ends is None:
            self.lease_ends = claimed_at + settings.POSTBACK_LEASE_SECONDS
        if len(ids) >= room and self.on_more_due is not None:
            more_due, self.on_more_due = self.on_more_due, None
            more_due()
        self.start(postbacks)

    def _collect(self, *, timeout: float) -> None:
        for pk, result in self.transfers.wait(timeout):
            postback = self.out.pop(pk)
            postback.result = result
            self.done.append(postback)

    def _more_due_soon(self, deadline: float) -> bool:
        """Wait here for work due within a second (a rate-limited backlog, a short Retry-After) rather than hand over."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        wait_seconds = seconds_until_next_due()
        if wait_seconds is None or wait_seconds > min(1.0, remaining):
            return False
        self.wait(max(wait_seconds, IDLE_POLL_SECONDS))
        return True

    def _record_done(self) -> None:
        if self.done:
            done, self.done = self.done, []
            _record(done, self.worker)

    def _renew(self) -> None:
        """Extend the lease of what is out; stop what is no longer leased to this sender."""
        every = settings.POSTBACK_LEASE_SECONDS / RENEWALS_PER_LEASE
        renewed_at = time.monotonic()
        self.renew_at = renewed_at + every
        try:
            leased = deliveries_lease_renew(ids=list(self.out), worker=self.worker)
        except DatabaseError:
            logger.warning("could not renew the lease of %d deliveries; retrying while the lease lasts",
                           len(self.out), exc_info=True)
            connection.close()
            if self.lease_ends is not None and time.monotonic() + every >= self.lease_ends:
                # The lease may pass to another sender before the next try: finish nothing more that is out.
                self._let_go(set(self.out))
            return
        self.lease_ends = renewed_at + settings.POSTBACK_LEASE_SECONDS
        self._let_go(set(self.out) - leased)

    def _let_go(self, ids: set[int]) -> None:
        for pk in ids:
            self.transfers.cancel(pk)
            postback = self.out.pop(pk)
            postback.leased, postback.result = False, NOT_SENT
            self.done.append(postback)


def deliveries_claim_due(
    *, worker: str, limit: int, now: datetime | None = None, exclude_endpoints: Collection[int] = ()
) -> list[int]:
    """Lease up to ``limit`` due deliveries to ``worker``, endpoints taking turns; returns their ids.

    Each active endpoint offers its oldest due deliveries up to its free
    slots: ``POSTBACK_ENDPOINT_CONCURRENCY`` minus what any sender holds of
    it, or one probe when its circuit is open and the probe is due. The
    claim takes the first of each endpoint's, then the second, and so on.
    Senders claiming at the same instant each count what the others had
    committed before, so for that moment an endpoint may have up to its
    concurrency per racing sender out; it is back under its cap as those
    transfers end. Endpoints in ``exclude_endpoints`` take no part.
    """
    now = now or timezone.now()
    tables = {
        "delivery": Delivery._meta.db_table, "endpoint": PostbackEndpoint._meta.db_table,
        "partner": Partner._meta.db_table,
    }
    params = {
        "lease_end": db_datetime(now + timedelta(seconds=settings.POSTBACK_LEASE_SECONDS)), "worker": worker,
        "now": db_datetime(now), "pending": Delivery.Status.PENDING, "retrying": Delivery.Status.RETRYING,
        "concurrency": settings.POSTBACK_ENDPOINT_CONCURRENCY, "active": True, "limit": limit,
    }
    # Integers of our own rows, so they can be written into the statement (a list parameter is not
    # portable); -1 is no row's id, and keeps NOT IN true when nothing is excluded (NOT IN (NULL) is not).
    excluded = ",".join(str(int(pk)) for pk in exclude_endpoints) or "-1"
    sql = (_CLAIM_POSTGRESQL if connection.vendor == "postgresql" else _CLAIM_PORTABLE).format(
        slots=_FREE_SLOTS.format(**tables), excluded=excluded, **tables
    )
    # One statement: atomic on its own, and part of the caller's transaction when there is one.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# What an endpoint may have claimed now: its concurrency, or one probe while its circuit is open, less what
# is leased already. The partial index delivery_leased serves the count (only rows out with a sender).
_FREE_SLOTS = """
    CASE WHEN e.circuit_opened_at IS NULL THEN %(concurrency)s
         WHEN e.circuit_next_probe_at <= %(now)s THEN 1 ELSE 0 END
    - (SELECT COUNT(*) FROM {delivery} b
       WHERE b.endpoint_id = e.id AND b.claimed_by <> '' AND b.claimed_until >= %(now)s
         AND b.status IN (%(pending)s, %(retrying)s))
"""
# An open circuit's probe is its oldest held delivery, due or not: every one of them is waiting for it;
# one in its endpoint's hold period is not waiting for the circuit, and is never a probe before its time.
# On an endpoint ordered per player, a delivery waits while an earlier one of its player is open there
# (due later, out with a sender, or held by the circuit; a hold period holds back only itself): the
# partial index delivery_player_order answers that with one probe.
_DUE = """
    d.status IN (%(pending)s, %(retrying)s)
    AND (d.next_attempt_at <= %(now)s
         OR (e.circuit_opened_at IS NOT NULL AND (d.held_until IS NULL OR d.held_until <= %(now)s)))
    AND (d.claimed_until IS NULL OR d.claimed_until < %(now)s)
    AND (NOT e.ordered_per_player OR d.order_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM {delivery} o
        WHERE o.endpoint_id = d.endpoint_id AND o.order_key = d.order_key AND o.id < d.id
          AND o.status IN (%(pending)s, %(retrying)s) AND (o.held_until IS NULL OR o.held_until <= %(now)s)))
"""
# PostgreSQL: per active endpoint, a short walk of the partial index delivery_endpoint_due for its
# oldest due rows (FOR UPDATE SKIP LOCKED lets senders on many hosts claim side by side), so the
# cost follows the number of endpoints, not the size of the backlog.
_CLAIM_POSTGRESQL = """
    UPDATE {delivery} SET claimed_until = %(lease_end)s, claimed_by = %(worker)s
    WHERE id IN (
        SELECT id FROM (
            SELECT d.id, d.next_attempt_at,
                   ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS turn
            FROM {endpoint} e
            JOIN {partner} p ON p.id = e.partner_id
            CROSS JOIN LATERAL (
                SELECT d.id, d.endpoint_id, d.next_attempt_at FROM {delivery} d
                WHERE d.endpoint_id = e.id AND """ + _DUE + """
                ORDER BY d.next_attempt_at, d.id
                LIMIT GREATEST(({slots}), 0)
                FOR UPDATE OF d SKIP LOCKED
            ) d
            WHERE e.is_active = %(active)s AND p.is_active = %(active)s AND e.id NOT IN ({excluded})
        ) due
        ORDER BY turn, next_attempt_at, id
        LIMIT %(limit)s
    )
    RETURNING id
"""  # noqa: S608 - table names come from model metadata, values are parameters
# SQLite (development): the same choice over every due row, which is fine at a development's scale.
_CLAIM_PORTABLE = """
    UPDATE {delivery} SET claimed_until = %(lease_end)s, claimed_by = %(worker)s
    WHERE id IN (
        SELECT id FROM (
            SELECT d.id, d.next_attempt_at, ({slots}) AS slots,
                   ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS turn
            FROM {delivery} d
            JOIN {endpoint} e ON e.id = d.endpoint_id
            JOIN {partner} p ON p.id = e.partner_id
            WHERE """ + _DUE + """ AND e.is_active = %(active)s AND p.is_active = %(active)s
              AND e.id NOT IN ({excluded})
        ) due
        WHERE turn <= slots
        ORDER BY turn, next_attempt_at, id
        LIMIT %(limit)s
    )
    RETURNING id
"""  # noqa: S608 - table names come from model metadata, values are parameters


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
    """Seconds until the next delivery a sender could claim is due; None when there is none.

    Per endpoint that could take one, the first of its open deliveries that no sender holds, found as the
    claim finds them (a short walk of delivery_endpoint_due): the cost follows the endpoints and what is
    out with senders, not the size of the backlog.
    """
    now = timezone.now()
    first_due = (
        Delivery.objects.filter(endpoint=OuterRef("pk"), status__in=Delivery.OPEN_STATUSES)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        # One waiting behind an earlier one of its player is not due: the earlier one's time counts instead,
        # and while that one is out, neither is.
        .exclude(behind_an_earlier_one(now))
        .order_by("next_attempt_at")
        .values("next_attempt_at")[:1]
    )
    earliest = (
        PostbackEndpoint.objects.filter(is_active=True, partner__is_active=True, circuit_opened_at__isnull=True)
        .annotate(first_due=Subquery(first_due))
        .aggregate(earliest=Min("first_due"))["earliest"]
    )
    return None if earliest is None else (earliest - now).total_seconds()


def _claimed_postbacks(*, ids: list[int], worker: str) -> list[Postback]:
    """The claimed deliveries ready to send, their attempts written; the rate-limited ones are given back."""
    if not ids:
        return []
    rows = list(Delivery.objects.filter(id__in=ids, claimed_by=worker).values(*CLAIM_FIELDS, *EVENT_LOOKUPS.values()))
    endpoints = PostbackEndpoint.objects.select_related("partner").in_bulk({row["endpoint_id"] for row in rows})
    postbacks = [
        Postback(
            endpoint=endpoints[row["endpoint_id"]],
            event=EventView(**{name: row[lookup] for name, lookup in EVENT_LOOKUPS.items()}),
            **{name: row[name] for name in CLAIM_FIELDS if name != "endpoint_id"},
        )
        for row in rows
    ]
    ready, deferred = _apply_rate_limits(postbacks, time.time())
    _release_deferred(deferred, worker, timezone.now())
    circuit.probes_sent(endpoints=[postback.endpoint for postback in ready if postback.is_probe], now=timezone.now())
    return _prepare(ready)


def _apply_rate_limits(postbacks: list[Postback], now: float) -> tuple[list[Postback], dict[int, float]]:
    """Split into what may go now and, for the rest, how many seconds each waits."""
    by_endpoint: dict[int, list[Postback]] = defaultdict(list)
    for postback in postbacks:
        by_endpoint[postback.endpoint_id].append(postback)
    ready, deferred = [], {}
    for endpoint_id, group in by_endpoint.items():
        limit = group[0].endpoint.rate_limit_per_second
        allowed = len(group) if not limit else ratelimit.rate_limit_take(
            endpoint_id=endpoint_id, limit=limit, wanted=len(group), now=now
        )
        ready.extend(group[:allowed])
        for position, postback in enumerate(group[allowed:]):
            deferred[postback.id] = ratelimit.deferral_seconds(position=position, limit=limit, now=now)
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
        refused_body_contains=endpoint.refused_body_contains,
    )


def outbound_shown(request: http.OutboundRequest, shown: RenderedRequest) -> http.OutboundRequest:
    """``request`` as stored and shown: ``shown``'s masked parts, with the webhook headers that were sent."""
    sent = {name: value for name, value in request.headers.items() if name.startswith("webhook-")}
    return replace(request, url=shown.url, body=shown.body, headers=shown.headers | sent)


def _prepare(postbacks: list[Postback]) -> list[Postback]:
    rules = payout_rules_by_partner_type(postback.endpoint.partner_id for postback in postbacks)
    now = timezone.now()
    # Only a delivery tried before can have an attempt its sender never finished.
    _close_lost_attempts([postback.id for postback in postbacks if postback.attempt_count], now)
    for postback in postbacks:
        postback.attempt_count += 1
        postback.started_at = now
        _render_contained(postback, rules)
    rows_insert(DeliveryAttempt, columns=ATTEMPT_START_FIELDS, rows=rows_of(postbacks, ATTEMPT_START_FIELDS))
    Delivery.objects.filter(id__in=[postback.id for postback in postbacks]).update(attempt_count=F("attempt_count") + 1)
    return postbacks


def _render_contained(postback: Postback, rules: dict) -> None:
    """The request rendered; a fault in it is this delivery's recorded error alone."""
    try:
        _render(postback, rules)
    except Exception as exc:  # noqa: BLE001 - one delivery that cannot be prepared must not stop its batch
        logger.exception("could not prepare delivery %s", postback.id)
        postback.request, postback.shown, postback.result = None, None, http.internal_error(exc)


def _render(postback: Postback, rules: dict) -> None:
    """The request twice: with the credentials, to send, and masked, to store (only the partner sees them)."""
    endpoint = postback.endpoint
    postback.secrets = Secrets(credentials=endpoint.credentials or {}).values()
    request = partial(
        event_request, endpoint=endpoint, event=postback.event, event_type=postback.event_type_id,
        partner_slug=postback.partner.slug, delivery_id=postback.id,
        rule=rules.get((endpoint.partner_id, postback.event_type_id)),
    )
    try:
        shown = request()
        rendered = request(secrets=Secrets(credentials=endpoint.credentials)) if endpoint.credentials else shown
    except TemplateError as exc:
        # Saved templates are validated; this catches one changed behind the validation's back.
        postback.result = http.HttpResult(
            verdict=http.Verdict.PERMANENT, duration_ms=0, error=f"template: {exc}", error_class="template"
        )
        return
    postback.needs_token = endpoint.auth_type in OAUTH2_TYPES
    postback.request = outbound_request(endpoint=endpoint, rendered=rendered, msg_id=str(postback.id))
    postback.shown = outbound_shown(postback.request, shown)


def _authorize(postbacks: list[Postback]) -> None:
    """Put each endpoint's OAuth2 access token on its postbacks' requests, or record on them why there is none.

    Done as the requests start, after the claim's transaction: fetching a token is a request of its own
    (rare: the token is cached), and no transaction waits on a partner. The token is asked for once per
    endpoint however many of its postbacks start together, and every one of them shares the answer: a token URL
    that fails is the same recorded, classified error on each (and, kept briefly in the cache, on what
    any sender starts for that endpoint next, without asking again; see ``oauth2``).
    """
    by_endpoint: dict[int, list[Postback]] = defaultdict(list)
    for postback in postbacks:
        by_endpoint[postback.endpoint_id].append(postback)
    for group in by_endpoint.values():
        endpoint = group[0].endpoint
        try:
            token, fresh = oauth2.access_token(endpoint)
        except oauth2.TokenError as exc:
            for postback in group:
                postback.result = exc.result
            continue
        except Exception as exc:  # noqa: BLE001 - an endpoint without a token must not stop the others
            logger.exception("could not get an access token for endpoint %s", endpoint.pk)
            for postback in group:
                postback.result = http.internal_error(exc)
            continue
        secrets = Secrets(credentials=endpoint.credentials, access_token=token)
        header = authorization(endpoint, secrets)
        for postback in group:
            postback.fresh_token, postback.secrets = fresh, secrets.values()
            postback.request = replace(postback.request, headers=postback.request.headers | header)


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
    attempts_lost.send(sender=Postback, count=lost)


def _record(postbacks: list[Postback], worker: str) -> None:
    """Write the attempts and outcomes, and their endpoints' circuits, in one transaction."""
    now = timezone.now()
    for postback in postbacks:
        _finish_contained(postback, now)
    kept = [postback for postback in postbacks if postback.leased]
    try:
        with transaction.atomic():
            rows_update(DeliveryAttempt, ATTEMPT_KEYS, ATTEMPT_RESULT_FIELDS,
                        rows_of(postbacks, (*ATTEMPT_KEYS, *ATTEMPT_RESULT_FIELDS)))
            # Only rows still leased to this sender: a cancel or an expired lease has taken the others away.
            recorded = set(rows_update(Delivery, ("id",), DELIVERY_OUTCOME_FIELDS,
                                       rows_of(kept, ("id", *DELIVERY_OUTCOME_FIELDS)),
                                       where={"claimed_by": worker}, returning="id"))
            recorded = [postback for postback in kept if postback.id in recorded]
            # Test postbacks say nothing of the partner's health to the failure run (and cannot open a circuit).
            circuit.outcomes_record(postbacks=[postback for postback in recorded if not postback.is_test], now=now)
    except DatabaseError:
        # Still leased: when the lease ends another sender takes them again (at least once, never lost).
        logger.exception("could not record the outcome of %d deliveries", len(postbacks))
        connection.close()
        return
    attempts_recorded.send(sender=Postback, postbacks=recorded)


def _finish_contained(postback: Postback, now: datetime) -> None:
    try:
        _finish(postback, now)
    except Exception as exc:  # noqa: BLE001 - whatever broke, this delivery gets an outcome on record
        logger.exception("could not judge the outcome of delivery %s", postback.id)
        postback.result = http.internal_error(exc, duration_ms=postback.result.duration_ms if postback.result else 0)
        _finish(postback, now)


def _finish(postback: Postback, now: datetime) -> None:
    """The attempt's result, and the delivery's outcome: delivered, retried on the schedule, or failed for good.

    A probe that fails is not failed for running out of attempts: its endpoint's circuit is open, so its
    failures say how the partner is, not how this delivery is. A test postback is a one-off check: it
    is never retried, so its attempt says failed, as it is.
    """
    result = _token_refused(postback)
    postback.finished_at = now
    postback.outcome = _OUTCOMES[result.verdict]
    postback.duration_ms, postback.status_code = result.duration_ms, result.status_code
    # A partner may echo a credential back: none is stored or shown.
    postback.response_excerpt = scrub(result.response_excerpt, postback.secrets)
    postback.error, postback.error_class = scrub(result.error, postback.secrets), result.error_class
    postback.last_error = postback.error
    failed_in_a_row = postback.attempt_count - postback.retry_base
    if result.verdict == http.Verdict.SUCCESS:
        postback.status, postback.delivered_at, postback.next_attempt_at = Delivery.Status.DELIVERED, now, None
    elif result.verdict == http.Verdict.TRANSIENT and not postback.is_test and (
        failed_in_a_row < postback.endpoint.max_attempts or postback.is_probe
    ):
        postback.status = Delivery.Status.RETRYING
        postback.next_attempt_at = retry.next_attempt_at(
            now=now, failed_attempts=failed_in_a_row, retry_after_seconds=result.retry_after_seconds
        )
    else:
        postback.status, postback.next_attempt_at = Delivery.Status.FAILED, None
        if result.verdict == http.Verdict.TRANSIENT:
            postback.outcome = DeliveryAttempt.Outcome.FAILURE
            if not postback.is_test:
                postback.last_error = f"{postback.error} (attempts exhausted: {failed_in_a_row})"


def _token_refused(postback: Postback) -> http.HttpResult:
    """A 401 to an OAuth2 endpoint drops its cached token; one taken from the cache earns one retry with a new one.

    A token fetched for this very attempt and refused means the credentials are wrong: that 401 is final.
    """
    result = postback.result
    if result.status_code != 401 or postback.endpoint.auth_type not in OAUTH2_TYPES:
        return result
    oauth2.access_token_forget(postback.endpoint)
    if postback.fresh_token:
        return result
    return replace(
        result, verdict=http.Verdict.TRANSIENT, error_class="token_refused", retry_after_seconds=0.0,
        error="HTTP 401: the partner refused the cached access token; retried with a new one",
    )


def _release_deferred(waits: dict[int, float], worker: str, now: datetime) -> None:
    """Rate-limited deliveries go back, due again when the limit lets them through; no attempt is used."""
    by_wait: dict[float, list[int]] = defaultdict(list)
    for pk, wait_seconds in waits.items():
        by_wait[round(wait_seconds, 3)].append(pk)
    for wait_seconds, ids in by_wait.items():
        Delivery.objects.filter(id__in=ids, claimed_by=worker).update(
            next_attempt_at=now + timedelta(seconds=wait_seconds), claimed_until=None, claimed_by=""
        )
