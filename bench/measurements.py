"""One function per figure. Each returns a dict; a feature not in the tree yet gives ``status: not available yet``.

Every loop here is bounded by a count and a time limit.
"""

import base64
import contextlib
import importlib
import json
import secrets
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field, replace

import psycopg2
import redis
import requests
from psycopg2.extras import execute_values

from . import cpu, procs, profiling
from . import env as bench_env
from .load import closed_loop, http_request, open_loop, percentile
from .stack import LISTENING_SENDER, CeleryWorkers, Gunicorn, Sink, StackConfig, beat_start, listening_sender_start

NOT_AVAILABLE = "not available yet"
FANOUT_PARTNER = "bench-fanout"
LATENCY_PARTNER = "bench-latency"


@dataclass
class Scale:
    """Counts and time limits; ``quick`` shrinks them for a smoke run."""

    noop_requests: int = 60_000
    noop_seconds: float = 8
    single_events: int = 30_000
    single_seconds: float = 12
    client_connections: int = 32
    batch_requests: int = 40
    batch_seconds: float = 25
    batch_connections: int = 4
    raw_rows: int = 100_000
    raw_seconds: float = 10
    http_requests: int = 10_000
    http_seconds: float = 6
    delivery_events: int = 2_500
    delivery_seconds: float = 120
    peer_seconds: float = 60
    latency_rate: float = 1_000
    latency_seconds: float = 10
    kill_events_max: int = 20_000
    profile_seconds: float = 6
    export_rows: tuple[int, ...] = (10_000, 1_000_000)

    @classmethod
    def quick(cls) -> "Scale":
        return cls(
            noop_requests=3_000, noop_seconds=3, single_events=1_000, single_seconds=4, batch_requests=4,
            batch_seconds=8, raw_rows=5_000, raw_seconds=5, http_requests=500, http_seconds=3, delivery_events=300,
            delivery_seconds=40, peer_seconds=40, latency_rate=200, latency_seconds=3, kill_events_max=600,
            profile_seconds=3, export_rows=(2_000, 20_000),
        )


@dataclass
class Context:
    scale: Scale
    config: StackConfig
    env: dict
    sink: Sink
    gunicorn: Gunicorn
    api_key: str
    fanout: int
    deadline: float
    notes: dict = field(default_factory=dict)
    meter: cpu.Meter | None = None

    def seconds_left(self) -> float:
        return self.deadline - time.time()


def _cpu_window(ctx: Context) -> cpu.Window | None:
    """Open a CPU window over the stack's processes; close it with ``_cpu_per``."""
    return ctx.meter.window().start() if ctx.meter else None


def _cpu_per(window: cpu.Window | None, *, units: int | None, unit: str) -> dict | None:
    return None if window is None else cpu.per_unit(window.stop(), units=units, unit=unit)


def not_available(reason: str) -> dict:
    return {"status": NOT_AVAILABLE, "reason": reason}


# --- fixtures -------------------------------------------------------------------


def fixtures_create(*, sink_port: int, fanout: int) -> str:
    """A platform API key and two partners: one with ``fanout`` endpoints, one with a single endpoint."""
    from accounts.services import api_key_create
    from events.models import EventType
    from partners.models import Partner, PostbackEndpoint

    deposit = EventType.objects.get(slug=EventType.DEPOSIT)

    for slug, count in ((FANOUT_PARTNER, fanout), (LATENCY_PARTNER, 1)):
        partner = Partner.objects.create(slug=slug, name=slug, scope=Partner.Scope.ATTRIBUTED)
        for number in range(count):
            endpoint = PostbackEndpoint.objects.create(
                partner=partner,
                name=f"{slug}-{number}",
                url_template=f"http://127.0.0.1:{sink_port}/pb/{slug}/{number}?e={{event_id}}&d={{delivery_id}}",
                method=PostbackEndpoint.Method.GET,
                signing_secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            )
            endpoint.event_types.set([deposit])
    return api_key_create(name="bench", role="platform").plaintext


def event_body(*, run: str, index: int, partner: str, player: str | None = None) -> dict:
    return {
        "event_id": f"{run}-{index}",
        "type": "deposit",
        "player_id": player or f"p-{index % 20_000}",
        "partner": partner,
        "click_id": f"click-{index % 20_000}",
        "amount": "25.00",
        "currency": "EUR",
        "params": {"sub1": "campaign-7", "country": "DE"},
    }


def _json_request(ctx: Context, path: str, payload) -> bytes:
    headers = {"Authorization": f"Bearer {ctx.api_key}", "Content-Type": "application/json"}
    return http_request("POST", path, body=json.dumps(payload).encode(), headers=headers)


def _probe(ctx: Context, path: str) -> int:
    response = requests.post(
        f"http://127.0.0.1:{ctx.gunicorn.port}{path}", json={}, timeout=10,
        headers={"Authorization": f"Bearer {ctx.api_key}"},
    )
    return response.status_code


def open_deliveries_cancel() -> int:
    """Take the ingest runs' pending postbacks off the queue so the delivery runs start from a known backlog."""
    from deliveries.models import Delivery

    return Delivery.objects.filter(status__in=Delivery.OPEN_STATUSES).update(status=Delivery.Status.CANCELLED)


def delivery_count(*, partner: str | None = None, since_id: int = 0) -> int:
    from deliveries.models import Delivery

    queryset = Delivery.objects.filter(id__gt=since_id)
    return queryset.filter(partner__slug=partner).count() if partner else queryset.count()


def last_delivery_id() -> int:
    from deliveries.models import Delivery

    return Delivery.objects.order_by("-id").values_list("id", flat=True).first() or 0


def delivery_engine_available() -> bool:
    try:
        tasks = importlib.import_module("deliveries.tasks")
    except ImportError:
        return False
    return hasattr(tasks, "send_due_deliveries")


def _summary(result, *, count_statuses: tuple[int, ...], per_request: int = 1) -> dict:
    ok = result.ok_count(*count_statuses)
    latencies = [(o.done - o.sent) * 1000 for o in result.outcomes if o.status in count_statuses]
    return {
        "requests_ok": ok,
        "per_second": round(ok * per_request / result.elapsed, 1) if result.elapsed else None,
        "elapsed_s": round(result.elapsed, 2),
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "client_errors": dict(result.errors),
        "latency_ms": {
            "p50": _ms(percentile(latencies, 0.50)),
            "p95": _ms(percentile(latencies, 0.95)),
            "p99": _ms(percentile(latencies, 0.99)),
        },
    }


def _ms(value):
    return None if value is None else round(value, 2)


# --- baselines --------------------------------------------------------------------


def noop_view(ctx: Context) -> dict:
    """Web ceiling: a no-op Django view through the full middleware stack on the same gunicorn."""
    request = http_request("GET", "/bench/noop")
    window = _cpu_window(ctx)
    result = closed_loop(ctx.gunicorn.port, lambda _: request, count=ctx.scale.noop_requests,
                         max_seconds=ctx.scale.noop_seconds, concurrency=ctx.scale.client_connections)
    figures = {"status": "measured", **_summary(result, count_statuses=(200,))}
    return figures | {"cpu": _cpu_per(window, units=figures["requests_ok"], unit="request")}


def raw_inserts(ctx: Context) -> dict:
    """Storage ceiling: the rows one ingested batch writes (events, players, deliveries), by execute_values."""
    connection = psycopg2.connect(bench_env.database_url())
    with connection, connection.cursor() as cursor:
        for table in ("events_event", "events_player", "deliveries_delivery"):
            cursor.execute(f"DROP TABLE IF EXISTS raw_{table}")
            cursor.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
    rows_done, start, window = 0, time.time(), _cpu_window(ctx)
    while rows_done < ctx.scale.raw_rows and time.time() - start < ctx.scale.raw_seconds:
        with connection, connection.cursor() as cursor:
            _raw_batch(cursor, first=rows_done, size=1000, fanout=ctx.fanout)
        rows_done += 1000
    elapsed = time.time() - start
    cpu_figures = _cpu_per(window, units=rows_done, unit="event")
    connection.close()
    return {
        "status": "measured", "events": rows_done, "elapsed_s": round(elapsed, 2), "cpu": cpu_figures,
        "per_second": round(rows_done / elapsed, 1),
        "shape": f"per 1,000 events: 1,000 event rows + 1,000 player upserts + {1000 * ctx.fanout} delivery rows, "
                 "one transaction, tables copied with LIKE ... INCLUDING ALL (same indexes and constraints)",
    }


def _raw_batch(cursor, *, first: int, size: int, fanout: int) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    params = json.dumps({"sub1": "campaign-7", "country": "DE"})
    players = [{"player_id": f"raw-p-{i}", "click_id": f"click-{i}", "tracking_params": "{}", "created_at": now}
               for i in range(first, first + size)]
    _raw_insert(cursor, "raw_events_player", players, suffix=" ON CONFLICT (player_id) DO NOTHING")
    events = [{"event_id": f"raw-{i}", "type_id": "deposit", "player_id": f"raw-p-{i}", "click_id": f"click-{i}",
               "amount": "25.00", "currency": "EUR", "params": params, "occurred_at": now, "received_at": now,
               "content_hash": secrets.token_hex(32)} for i in range(first, first + size)]
    ids = _raw_insert(cursor, "raw_events_event", events, suffix=" RETURNING id")
    deliveries = [{"event_id": event_id, "endpoint_id": endpoint, "partner_id": 1, "event_type_id": "deposit",
                   "status": "pending", "next_attempt_at": now, "created_at": now, "updated_at": now}
                  for (event_id,) in ids for endpoint in range(fanout)]
    _raw_insert(cursor, "raw_deliveries_delivery", deliveries)


# Values for NOT NULL columns without a default, by type: the model keeps growing, the baseline must keep up.
_FILLERS = {"text": "", "character varying": "", "boolean": False, "smallint": 0, "integer": 0, "bigint": 0,
            "numeric": 0, "jsonb": "{}", "timestamp with time zone": "2026-01-01T00:00:00Z"}


_required_columns: dict[str, list[tuple[str, str]]] = {}


def _raw_insert(cursor, table: str, rows: list[dict], *, suffix: str = ""):
    if table not in _required_columns:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
            "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'", [table],
        )
        _required_columns[table] = cursor.fetchall()
    required = {name: _FILLERS[kind] for name, kind in _required_columns[table] if name not in rows[0]}
    columns = [*rows[0], *required]
    values = [(*row.values(), *required.values()) for row in rows]
    return execute_values(
        cursor, f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s{suffix}", values,
        fetch="RETURNING" in suffix, page_size=len(rows),
    )


def http_loop(ctx: Context) -> dict:
    """HTTP ceiling per sender: a bare requests.Session GET loop to the same sink, one thread."""
    session = requests.Session()
    url = f"http://127.0.0.1:{ctx.sink.port}/http-ceiling"
    done, start, window = 0, time.time(), _cpu_window(ctx)
    while done < ctx.scale.http_requests and time.time() - start < ctx.scale.http_seconds:
        session.get(url, timeout=5).raise_for_status()
        done += 1
    elapsed = time.time() - start
    cpu_figures = _cpu_per(window, units=done, unit="request")
    ctx.sink.reset()
    return {"status": "measured", "requests": done, "elapsed_s": round(elapsed, 2), "cpu": cpu_figures,
            "per_second": round(done / elapsed, 1), "client": "one thread, requests.Session keep-alive"}


# --- ingest -----------------------------------------------------------------------


def single_ingest(ctx: Context) -> dict:
    if _probe(ctx, "/api/v1/events/") == 404:
        return not_available("POST /api/v1/events/ answers 404")
    run = f"s{int(time.time())}"
    window = _cpu_window(ctx)
    result = closed_loop(
        ctx.gunicorn.port,
        lambda i: _json_request(ctx, "/api/v1/events/", event_body(run=run, index=i, partner=FANOUT_PARTNER)),
        count=ctx.scale.single_events, max_seconds=ctx.scale.single_seconds,
        concurrency=ctx.scale.client_connections,
    )
    figures = {"status": "measured", **_summary(result, count_statuses=(201,))}
    figures["fanout"] = ctx.fanout
    figures["cpu"] = _cpu_per(window, units=figures["requests_ok"], unit="event")
    return figures


def single_ingest_p99_at_rate(ctx: Context, rate: float) -> dict:
    """Single-event ingest latency at a steady rate (open loop), for the p99 target."""
    run = f"r{int(time.time())}"
    window = _cpu_window(ctx)
    result = open_loop(
        ctx.gunicorn.port,
        lambda i: _json_request(ctx, "/api/v1/events/", event_body(run=run, index=i, partner=FANOUT_PARTNER)),
        rate=rate, count=int(rate * ctx.scale.single_seconds), max_seconds=ctx.scale.single_seconds,
        concurrency=ctx.scale.client_connections,
    )
    latencies = [(o.done - o.scheduled) * 1000 for o in result.outcomes if o.status == 201]
    return {
        "rate": rate, "accepted": len(latencies), "elapsed_s": round(result.elapsed, 2),
        "cpu": _cpu_per(window, units=len(latencies), unit="event"),
        "latency_ms": {"p50": _ms(percentile(latencies, 0.5)), "p95": _ms(percentile(latencies, 0.95)),
                       "p99": _ms(percentile(latencies, 0.99))},
    }


def batch_ingest(ctx: Context) -> dict:
    if _probe(ctx, "/api/v1/events/batch/") == 404:
        return not_available("POST /api/v1/events/batch/ answers 404")
    run = f"b{int(time.time())}"

    def batch(i: int) -> bytes:
        events = [event_body(run=run, index=i * 1000 + n, partner=FANOUT_PARTNER) for n in range(1000)]
        return _json_request(ctx, "/api/v1/events/batch/", {"events": events})

    bodies = [batch(i) for i in range(ctx.scale.batch_requests)]  # built up front: the client must not be the limit
    window = _cpu_window(ctx)
    result = closed_loop(ctx.gunicorn.port, bodies.__getitem__, count=len(bodies),
                         max_seconds=ctx.scale.batch_seconds, concurrency=ctx.scale.batch_connections)
    figures = {"status": "measured", **_summary(result, count_statuses=(200,), per_request=1000)}
    figures["events_per_request"] = 1000
    figures["fanout"] = ctx.fanout
    figures["cpu"] = _cpu_per(window, units=figures["requests_ok"] * 1000, unit="event")
    return figures


def ingest_rows_settle(ctx: Context) -> dict:
    cancelled = open_deliveries_cancel()
    return {"cancelled_open_deliveries": cancelled}


# --- delivery -----------------------------------------------------------------------


def _backlog_ingest(ctx: Context, *, run: str, events: int, partner: str) -> None:
    """Ingest ``events`` through the batch API (or the single API when there is no batch API)."""
    if _probe(ctx, "/api/v1/events/batch/") != 404:
        per = 1000
        count = (events + per - 1) // per
        request = lambda i: _json_request(  # noqa: E731
            ctx, "/api/v1/events/batch/",
            {"events": [event_body(run=run, index=n, partner=partner) for n in range(i * per, min(events, (i + 1) * per))]},
        )
        closed_loop(ctx.gunicorn.port, request, count=count, max_seconds=60, concurrency=2)
    else:
        closed_loop(ctx.gunicorn.port, lambda i: _json_request(ctx, "/api/v1/events/",
                                                               event_body(run=run, index=i, partner=partner)),
                    count=events, max_seconds=60, concurrency=16)


def _drain(ctx: Context, *, expected: int, timeout: float, counted: str = "unique") -> dict:
    """Wait until the sink has ``expected`` postbacks (distinct URLs, or all requests when ``counted="count"``)."""
    stats = procs.wait_until(lambda: (s := ctx.sink.stats())[counted] >= expected and s, timeout=timeout,
                             interval=0.1) or ctx.sink.stats()
    window = (stats["last"] - stats["first"]) if stats["count"] > 1 else None
    return {
        "expected": expected, "received": stats["count"], "unique": stats["unique"],
        "duplicates": stats["count"] - stats["unique"], "window_s": _round(window),
        "per_second": round((stats["count"] - 1) / window, 1) if window else None,
        "first": stats["first"], "last": stats["last"], "connections_opened": stats["connections"],
    }


def _round(value, digits: int = 3):
    return None if value is None else round(value, digits)


def delivery_throughput(ctx: Context) -> dict:
    if not delivery_engine_available():
        return not_available("deliveries.tasks.send_due_deliveries is not in the tree")
    if _probe(ctx, "/api/v1/events/") == 404:
        return not_available("no ingest API to create the backlog with")
    ctx.sink.reset()
    before = last_delivery_id()
    _backlog_ingest(ctx, run=f"d{int(time.time())}", events=ctx.scale.delivery_events, partner=FANOUT_PARTNER)
    expected = delivery_count(since_id=before)
    if expected == 0:
        return not_available("ingesting events created no delivery rows")
    started = time.time()
    with _senders(ctx, "deliver"):
        # From the senders' readiness, so their start-up is not counted: postbacks are counted from then too.
        # A sender ready before the others (woken by the message ingest left in the broker) has sent some by
        # then; the rate counts from the moment all are sending, the CPU figures from the same moment.
        ready_at, window, before_window = time.time(), _cpu_window(ctx), ctx.sink.stats()["count"]
        drained = _drain(ctx, expected=expected, timeout=ctx.scale.delivery_seconds)
        drained["cpu"] = _cpu_per(window, units=drained["received"] - before_window, unit="postback")
    drained["per_second_from_first_receipt"] = drained["per_second"]
    drained["received_before_all_ready"] = before_window
    if drained["last"] and drained["last"] > ready_at:
        drained["per_second"] = round((drained["received"] - before_window) / (drained["last"] - ready_at), 1)
    drained["events"] = ctx.scale.delivery_events
    drained["fanout"] = ctx.fanout
    drained["workers_started_to_last_s"] = _round(drained["last"] - started if drained["last"] else None)
    drained["status"] = "measured"
    return drained


def delivery_profile(ctx: Context) -> dict:
    """Profile the Celery workers while they drain a backlog, for the missed-target analysis."""
    ctx.sink.reset()
    before = last_delivery_id()
    _backlog_ingest(ctx, run=f"dp{int(time.time())}", events=ctx.scale.delivery_events, partner=FANOUT_PARTNER)
    expected = delivery_count(since_id=before)
    workers = CeleryWorkers("postback_platform", ctx.env, ctx.config, "dprof").start()
    beat = beat_start(ctx.env)
    try:
        profile = profiling.record(workers.processes[0].pid, seconds=ctx.scale.profile_seconds,
                                   name="profile-delivery")
        _drain(ctx, expected=expected, timeout=30)
    finally:
        workers.stop()
        procs.stop(beat)
    return profile


def peer_throughput(ctx: Context, *, expected: int) -> dict:
    """django-webhook, as shipped, sending ``expected`` webhooks to the same sink with the same worker set-up."""
    try:
        importlib.import_module("django_webhook")
    except ImportError:
        return not_available("django-webhook is not installed (pip install -r bench/requirements.txt)")
    env = bench_env.peer_env()
    connection = psycopg2.connect(bench_env.database_url())
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS peer CASCADE; CREATE SCHEMA peer")
    connection.close()
    _peer_call(env, ["-m", "django", "migrate", "--noinput", "-v", "0"])
    events = max(1, expected // ctx.fanout)
    _peer_call(env, ["-m", "bench.peer.commands", "setup", f"http://127.0.0.1:{ctx.sink.port}/peer", str(ctx.fanout)])
    ctx.sink.reset()
    produced = time.time()
    _peer_call(env, ["-m", "bench.peer.commands", "produce", f"g{int(produced)}", str(events)])
    produce_seconds = time.time() - produced
    workers = CeleryWorkers("bench.peer", env, ctx.config, "peer")
    started = time.time()
    workers.start()
    try:
        window, before_window = _cpu_window(ctx), ctx.sink.stats()["count"]
        drained = _drain(ctx, expected=events * ctx.fanout, timeout=ctx.scale.peer_seconds, counted="count")
        drained["cpu"] = _cpu_per(window, units=drained["received"] - before_window, unit="webhook")
    finally:
        workers.stop()
    # django-webhook posts every event to the same URL, so the sink cannot tell re-sends apart.
    drained.pop("unique"), drained.pop("duplicates")
    drained.update(status="measured", events=events, fanout=ctx.fanout, produce_s=round(produce_seconds, 2),
                   workers_started_to_last_s=_round(drained["last"] - started if drained["last"] else None),
                   version=_version("django-webhook"), store_events="on (package default)")
    return drained


def _peer_call(env: dict, args: list[str]) -> None:
    subprocess.run([procs.PY, *args], cwd=procs.ROOT, env=env, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


# The 1,000 events/s of the latency target go in the way a platform sends high volume: batches at a
# steady pace. Single events are posted beside them, so both paths are timed under the same load.
LATENCY_BATCH = 20
LATENCY_PROBE_RATE = 20
# Below saturation: the steady single-event run offers at most half of what single ingest reached.
STEADY_SHARE = 0.5
STEADY_MAX_RATE = 200


def latency(ctx: Context) -> dict:
    """Event accepted -> the sink receiving its postback, while events are ingested at ``latency_rate``/s.

    Fan-out 1, every event a new player attributed to the one-endpoint partner. "Accepted" is the moment
    the load client reads the 201 (or the batch's 200): the event is committed then. The API's own stamp,
    taken before the commit, gives an upper bound beside it.
    """
    if (missing := _latency_missing(ctx)) is not None:
        return missing
    run = f"l{int(time.time())}"
    rate, batch = ctx.scale.latency_rate, LATENCY_BATCH
    requests_count = int(rate * ctx.scale.latency_seconds / batch)

    def batch_request(i: int) -> bytes:
        events = [_latency_event(run, i * batch + n) for n in range(batch)]
        return _json_request(ctx, "/api/v1/events/batch/", {"events": events})

    def probe_request(i: int) -> bytes:
        return _json_request(ctx, "/api/v1/events/", _latency_event(f"{run}s", i))

    probe_count = int(LATENCY_PROBE_RATE * ctx.scale.latency_seconds)
    with _senders(ctx, reset_sink=True):
        window = _cpu_window(ctx)
        probes: dict = {}
        probe_thread = threading.Thread(target=lambda: probes.update(result=open_loop(
            ctx.gunicorn.port, probe_request, rate=LATENCY_PROBE_RATE, count=probe_count,
            max_seconds=ctx.scale.latency_seconds, concurrency=4)))
        probe_thread.start()
        batches = open_loop(ctx.gunicorn.port, batch_request, rate=rate / batch, count=requests_count,
                            max_seconds=ctx.scale.latency_seconds, concurrency=ctx.scale.batch_connections * 4)
        probe_thread.join(timeout=ctx.scale.latency_seconds + 60)
        accepted = {f"{run}-{o.index * batch + n}": o for o in batches.outcomes if o.status == 200 for n in range(batch)}
        probe_accepted = {f"{run}s-{o.index}": o for o in probes["result"].outcomes if o.status == 201}
        received = _received_all(ctx, {**accepted, **probe_accepted})
        cpu_figures = _cpu_per(window, units=len(accepted) + len(probe_accepted), unit="event")
    span = _span(batches.outcomes)
    return {
        "status": "measured", "rate": rate, "events_per_request": batch, "offered": requests_count * batch,
        "accepted": len(accepted), "achieved_rate": round(len(accepted) / span, 1) if span else None, "fanout": 1,
        "cpu": cpu_figures,
        "delivered": sum(1 for eid in accepted if eid in received),
        "lost": sum(1 for eid in {**accepted, **probe_accepted} if eid not in received),
        **_gaps(accepted, received),
        "single_events": {"rate": LATENCY_PROBE_RATE, "accepted": len(probe_accepted),
                          **_gaps(probe_accepted, received)},
    }


def latency_steady(ctx: Context, *, single_rate: float | None) -> dict:
    """Single events at a steady rate well below saturation, nothing else running: the engine's own delay."""
    if (missing := _latency_missing(ctx)) is not None:
        return missing
    rate = round(min(STEADY_MAX_RATE, STEADY_SHARE * single_rate), 1) if single_rate else 50
    run = f"q{int(time.time())}"
    with _senders(ctx, reset_sink=True):
        window = _cpu_window(ctx)
        result = open_loop(
            ctx.gunicorn.port, lambda i: _json_request(ctx, "/api/v1/events/", _latency_event(run, i)),
            rate=rate, count=int(rate * ctx.scale.latency_seconds), max_seconds=ctx.scale.latency_seconds,
            concurrency=ctx.scale.client_connections,
        )
        accepted = {f"{run}-{o.index}": o for o in result.outcomes if o.status == 201}
        received = _received_all(ctx, accepted)
        cpu_figures = _cpu_per(window, units=len(accepted), unit="event")
    span = _span(result.outcomes)
    return {
        "status": "measured", "rate": rate, "accepted": len(accepted),
        "achieved_rate": round(len(accepted) / span, 1) if span else None, "fanout": 1, "cpu": cpu_figures,
        "lost": sum(1 for eid in accepted if eid not in received),
        "ingest_latency_ms": _percentiles([(o.done - o.scheduled) * 1000 for o in accepted.values()]),
        **_gaps(accepted, received),
    }


def _latency_missing(ctx: Context) -> dict | None:
    if not delivery_engine_available():
        return not_available("deliveries.tasks.send_due_deliveries is not in the tree")
    for path in ("/api/v1/events/", "/api/v1/events/batch/"):
        if _probe(ctx, path) == 404:
            return not_available(f"POST {path} answers 404")
    return None


def _latency_event(run: str, index: int) -> dict:
    # A new player each time, so first touch attributes every event to the one-endpoint partner.
    return event_body(run=run, index=index, partner=LATENCY_PARTNER, player=f"{run}-p{index}")


@contextlib.contextmanager
def _senders(ctx: Context, label: str = "latency", *, reset_sink: bool = False):
    """The Procfile's senders: Celery workers, beat (its recovery pass also starts senders) and the listening sender.

    The listening sender is a sender as a worker's pool child is, so beside it the workers run one child
    fewer: the run compares the same number of senders on the same cores, whichever the tree has.
    """
    config = ctx.config
    listening = LISTENING_SENDER.exists()
    if listening:
        config = replace(config, celery_concurrency=max(1, config.celery_concurrency - 1))
    workers = CeleryWorkers("postback_platform", ctx.env, config, label).start()
    beat = beat_start(ctx.env)
    sender = listening_sender_start(ctx.env) if listening else None
    if sender is not None:
        _advertised(ctx)  # its start-up (imports, Django's set-up) is left out, as the workers' is
    if reset_sink:
        ctx.sink.reset()
    try:
        yield
    finally:
        workers.stop()
        procs.stop(beat)
        if sender is not None:
            procs.stop(sender)


def _advertised(ctx: Context) -> None:
    """Wait (bounded) until the listening sender says it is up, so ingest wakes it from the first event on."""
    from deliveries.listener import ADVERTISEMENT_KEY

    client = redis.Redis.from_url(ctx.env["REDIS_URL"])
    if not procs.wait_until(lambda: bool(client.keys(f"*{ADVERTISEMENT_KEY}")), timeout=30, interval=0.2):
        raise RuntimeError("the listening sender did not advertise itself within 30 s")


def _received_all(ctx: Context, accepted: dict) -> dict[str, float]:
    """First receipt per accepted event, waiting (bounded) for the last of them to arrive."""
    _drain(ctx, expected=len(accepted), timeout=30)
    procs.wait_until(lambda: set(accepted) <= set(_first_receipt_by_event(ctx.sink.dump())), timeout=10, interval=0.5)
    return _first_receipt_by_event(ctx.sink.dump())


def _span(outcomes: list) -> float:
    return (max(o.done for o in outcomes) - min(o.scheduled for o in outcomes)) if outcomes else 0


def _gaps(accepted: dict, received: dict[str, float]) -> dict:
    """Accepted -> received, from the client's answer and, as an upper bound, from the API's pre-commit stamp."""
    stored = _received_at(list(accepted))
    return {
        "client_201_to_received_ms": _percentiles(
            [(received[eid] - o.done) * 1000 for eid, o in accepted.items() if eid in received]),
        "accepted_to_received_ms": _percentiles(
            [(received[eid] - stored[eid]) * 1000 for eid in accepted if eid in received and eid in stored]),
    }


def _received_at(event_ids: list[str]) -> dict[str, float]:
    from events.models import Event

    rows = Event.objects.filter(event_id__in=event_ids).values_list("event_id", "received_at")
    return {event_id: stamp.timestamp() for event_id, stamp in rows}


def _percentiles(values: list[float]) -> dict:
    return {name: _ms(percentile(values, q)) for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))} | {
        "max": _ms(max(values)) if values else None}


def _first_receipt_by_event(dump: list) -> dict[str, float]:
    first: dict[str, float] = {}
    for received_at, target in dump:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        event_id = query.get("e", [None])[0]
        if event_id and event_id not in first:
            first[event_id] = received_at
    return first


KILL_PARTNER_DELAY_MS = 200


def worker_kill(ctx: Context, *, delivery_rate: float | None) -> dict:
    """SIGKILL one of two workers mid-run; every delivery must still arrive, re-attempted within 60 s.

    The workers run with the shipped settings: a claim held by a dead worker is taken again only when its
    lease (POSTBACK_LEASE_SECONDS, renewed only by a live sender) ends, so the lease bounds the re-attempt delay.
    """
    from django.conf import settings

    if not delivery_engine_available():
        return not_available("deliveries.tasks.send_due_deliveries is not in the tree")
    if _probe(ctx, "/api/v1/events/") == 404:
        return not_available("no ingest API to create the backlog with")
    # Big enough that the kill lands mid-run (about six seconds of sending), small enough to stay bounded.
    events = int(min(ctx.scale.kill_events_max, max(300, (delivery_rate or 500) * 6 / ctx.fanout)))
    run = f"k{int(time.time())}"
    ctx.sink.reset()
    before = last_delivery_id()
    _backlog_ingest(ctx, run=run, events=events, partner=FANOUT_PARTNER)
    expected = delivery_count(since_id=before)
    workers = CeleryWorkers("postback_platform", ctx.env, ctx.config, "kill").start(count=2)
    beat = beat_start(ctx.env)
    # A partner answering in 200 ms keeps each claimed batch in flight long enough for the kill to land in one.
    ctx.sink.delay(KILL_PARTNER_DELAY_MS)
    try:
        procs.wait_until(lambda: ctx.sink.stats()["count"] >= expected * 0.2, timeout=60, interval=0.01)
        # The victim is a worker that holds claims right now (one sender may be doing all the work).
        victim = procs.wait_until(lambda: _claim_holder(workers.processes, since_id=before), timeout=30,
                                  interval=0.01) or workers.processes[0]
        victim_pids = procs.group_pids(victim)
        killed_at = time.time()
        procs.kill(victim)
        workers.processes.remove(victim)
        # What the dead worker left claimed and open: only a lease's end frees these.
        held_before = _held_by(victim_pids, since_id=before)
        received_at_kill = ctx.sink.stats()["unique"]
        budget = max(10.0, min(settings.POSTBACK_LEASE_SECONDS + 60.0, ctx.seconds_left() - 60))
        procs.wait_until(lambda: _open_count(since_id=before) == 0, timeout=budget, interval=0.25)
    finally:
        ctx.sink.delay(0)
        workers.stop()
        procs.stop(beat)
    receipts = _receipts_by_delivery(ctx.sink.dump(), run=run)
    first = {delivery_id: times[0] for delivery_id, times in receipts.items()}
    # A held delivery counts as re-attempted when it arrived after the kill (it may also have arrived before:
    # sent, then the worker died before recording it; that one shows as a duplicate).
    held_delays = [max(receipts[d]) - killed_at for d in held_before if d in receipts and max(receipts[d]) > killed_at]
    duplicates = sum(len(times) - 1 for times in receipts.values())
    return {
        "status": "measured", "events": events, "fanout": ctx.fanout, "expected": expected,
        "lease_seconds": settings.POSTBACK_LEASE_SECONDS, "partner_answer_delay_ms": KILL_PARTNER_DELAY_MS,
        "received_before_kill": received_at_kill,
        "unique_received": len(first), "lost": expected - len(first), "duplicates": duplicates,
        "held_by_killed_worker": len(held_before), "held_reattempted": len(held_delays),
        "held_reattempt_max_s": _round(max(held_delays)) if held_delays else None,
        "kill_to_last_receipt_s": _round(max(first.values()) - killed_at) if first else None,
        "open_in_database_after": _open_count(since_id=before),
    }


def _claim_holder(workers: list, *, since_id: int):
    """The worker process group one of whose processes holds an open claim, or None."""
    from deliveries.models import Delivery

    owners = set(
        Delivery.objects.filter(id__gt=since_id, status__in=Delivery.OPEN_STATUSES)
        .exclude(claimed_by="").values_list("claimed_by", flat=True)[:200]
    )
    for worker in workers:
        if any(f":{pid}:" in owner for pid in procs.group_pids(worker) for owner in owners):
            return worker
    return None


def _held_by(pids: list[int], *, since_id: int) -> list[str]:
    """Deliveries leased to one of ``pids`` (claimed_by is host:pid:nonce) and still open at the kill."""
    from deliveries.models import Delivery

    marks = tuple(f":{pid}:" for pid in pids)
    rows = Delivery.objects.filter(id__gt=since_id, status__in=Delivery.OPEN_STATUSES).exclude(claimed_by="")
    return [str(pk) for pk, owner in rows.values_list("id", "claimed_by") if any(m in owner for m in marks)]


def _receipts_by_delivery(dump: list, *, run: str) -> dict[str, list[float]]:
    receipts: dict[str, list[float]] = {}
    for received_at, target in dump:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        if query.get("e", [""])[0].startswith(f"{run}-") and "d" in query:
            receipts.setdefault(query["d"][0], []).append(received_at)
    return receipts


def _open_count(*, since_id: int) -> int:
    from deliveries.models import Delivery

    return Delivery.objects.filter(id__gt=since_id, status__in=Delivery.OPEN_STATUSES).count()


def export_copy_baseline(ctx: Context) -> dict:
    """Export ceiling: PostgreSQL's own COPY ... TO STDOUT (CSV) of the events table, read by psycopg2."""
    connection = psycopg2.connect(bench_env.database_url())
    sink = _CountingSink()
    started, window = time.time(), _cpu_window(ctx)
    with connection, connection.cursor() as cursor:
        cursor.copy_expert("COPY (SELECT * FROM events_event) TO STDOUT WITH CSV HEADER", sink)
    elapsed = time.time() - started
    rows = max(sink.lines - 1, 0)
    cpu_figures = _cpu_per(window, units=rows, unit="row")
    connection.close()
    return {"status": "measured", "rows": rows, "elapsed_s": round(elapsed, 3), "cpu": cpu_figures,
            "per_second": round(rows / elapsed, 1) if elapsed else None}


class _CountingSink:
    def __init__(self) -> None:
        self.lines = 0

    def write(self, data) -> None:
        self.lines += data.count(b"\n" if isinstance(data, bytes) else "\n")


EXPORT_SCRIPT = "bench/export_bench.py"


def export(ctx: Context) -> dict:
    """CSV export at 10k and 1M rows, by the reporting app's own benchmark script (bench/export_bench.py).

    The script creates the database it is given, fills it and drops it at the end, so it gets
    bench_main and runs last: nothing after it needs that database.
    """
    if not (procs.ROOT / EXPORT_SCRIPT).exists():
        return not_available(f"{EXPORT_SCRIPT} is not in the tree")
    output = procs.LOG_DIR / "export.json"
    output.unlink(missing_ok=True)
    argv, env = _export_command(ctx, rows=ctx.scale.export_rows, output=output)
    process = procs.start("export", argv, env)  # its own process group: a timeout stops its children too
    try:
        process.wait(timeout=max(60, ctx.seconds_left() - 10))
    except subprocess.TimeoutExpired:
        procs.stop(process)
        return {"status": "error", "reason": "the export benchmark did not finish within the run's time limit"}
    if process.returncode or not output.exists():
        log = (procs.LOG_DIR / "export.log").read_text(errors="replace")
        return {"status": "error", "reason": log[-1500:]}
    return {"status": "measured", "script": EXPORT_SCRIPT, "sizes": _export_sizes(json.loads(output.read_text()),
                                                                                     ctx.notes.get("copy_rate"))}


def profile_export(ctx: Context) -> dict:
    """The export benchmark at 100,000 rows under py-spy (its fill step is SQL, so the samples are the export's)."""
    argv, env = _export_command(ctx, rows=(100_000,), output=procs.LOG_DIR / "export-profile.json")
    return profiling.record_command(argv, name="profile-export", env=env, cwd=procs.ROOT,
                                    timeout=max(60, ctx.seconds_left() - 5))


def _export_command(ctx: Context, *, rows: tuple[int, ...], output) -> tuple[list[str], dict]:
    """The export script's command line and environment; it makes its own database, so this process lets go of it."""
    from django.db import connections

    connections.close_all()
    env = {k: v for k, v in ctx.env.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env["BENCH_DATABASE_URL"] = bench_env.database_url("postgres")
    argv = [procs.PY, EXPORT_SCRIPT, "--rows", *map(str, rows), "--database", bench_env.MAIN_DB, "--output", str(output)]
    return argv, env


def _export_sizes(report: dict, copy_rate: float | None) -> dict:
    sizes = {}
    for result in report["results"]:
        label = f"{result['rows'] // 1_000_000}M" if result["rows"] >= 1_000_000 else f"{result['rows'] // 1000}k"
        sizes[label] = {
            "rows": result["rows"], "rows_per_second": result["rows_per_second"],
            "peak_memory_mib": result["peak_rss_mib"], "growth_during_export_mib": result["export_rss_growth_mib"],
            "baseline_rows_per_second": copy_rate, "baseline": "COPY TO STDOUT CSV",
            "ratio": round(result["rows_per_second"] / copy_rate, 3) if copy_rate else None,
            "cpu": _export_cpu(result),
        }
    return sizes


def _export_cpu(result: dict) -> dict | None:
    spent = {kind: seconds for kind, seconds in (result.get("cpu_seconds") or {}).items() if seconds is not None}
    return cpu.per_unit(spent, units=result["rows"], unit="row") if spent else None


def profile_ingest(ctx: Context) -> dict:
    """Profile gunicorn's workers while single-event ingest runs at full load."""
    run = f"pi{int(time.time())}"

    def load():
        closed_loop(
            ctx.gunicorn.port,
            lambda i: _json_request(ctx, "/api/v1/events/", event_body(run=run, index=i, partner=FANOUT_PARTNER)),
            count=ctx.scale.single_events, max_seconds=ctx.scale.profile_seconds + 1,
            concurrency=ctx.scale.client_connections,
        )

    return profiling.record(ctx.gunicorn.process.pid, seconds=ctx.scale.profile_seconds, name="profile-ingest",
                            during=load)
