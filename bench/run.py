"""``make bench``: one bounded run of every measurement, written to bench/results/latest.json and bench/RESULTS.md.

    .venv/bin/python -m bench.run [--quick] [--max-minutes 11] [--fanout 2]
        [--gunicorn-workers 3 --gunicorn-threads 4]
        [--celery-workers 1 --celery-pool prefork --celery-concurrency 2]

Everything runs on loopback: its own PostgreSQL database (bench_main, dropped
and recreated), Redis dbs 10-12, a sink, gunicorn and Celery workers it
starts itself and kills at the end, whatever happens.

    .venv/bin/python -m bench.run --only libraries bulk_writes

``--only`` naming in-process measurements alone (``IN_PROCESS``) starts
nothing, keeps bench_main and Redis as they are (creating and migrating the
database if it is missing), and merges its figures into latest.json beside
the last full run's.
"""

import argparse
import json
import os
import secrets
import sys
import time
import traceback

from . import env as bench_env
from . import bulk_writes, erasure_bench, libraries, procs, report, retention_bench, sizing, wake_ups
from . import measurements as m
from .stack import Gunicorn, Sink, StackConfig, cpu_meter, database_create, database_recreate, redis_flush

# Measured in this process on the bench's database and Redis cache, with no server of the stack.
IN_PROCESS = {"libraries": libraries.measure, "bulk_writes": bulk_writes.measure, "wake_ups": wake_ups.measure,
              "erasure": erasure_bench.measure, "retention": retention_bench.measure, "sizing": sizing.measure}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run of the harness")
    parser.add_argument("--max-minutes", type=float, default=11)
    parser.add_argument("--fanout", type=int, default=2, help="endpoints per event in the delivery runs")
    parser.add_argument("--gunicorn-workers", type=int, default=StackConfig.gunicorn_workers)
    parser.add_argument("--gunicorn-threads", type=int, default=StackConfig.gunicorn_threads)
    parser.add_argument("--celery-workers", type=int, default=StackConfig.celery_workers)
    parser.add_argument("--celery-pool", default=StackConfig.celery_pool)
    parser.add_argument("--celery-concurrency", type=int, default=StackConfig.celery_concurrency)
    parser.add_argument("--only", nargs="*", help="run only these measurements (names as in latest.json)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy passes on missed targets")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    if args.only and set(args.only) <= IN_PROCESS.keys():
        return in_process_only(args.only)
    started = time.time()
    os.environ.setdefault("BENCH_SECRET_KEY", secrets.token_urlsafe(50))
    config = StackConfig(args.gunicorn_workers, args.gunicorn_threads, args.celery_workers, args.celery_pool,
                         args.celery_concurrency)
    env = bench_env.product_env()
    database_recreate(bench_env.MAIN_DB)
    redis_flush()
    # The orchestrator only reads and writes rows; without CELERY_BROKER_URL here, Celery in this process
    # cannot mistake the product's broker for the peer's when it pings workers.
    os.environ.update({k: v for k, v in env.items() if k not in ("PYTHONUNBUFFERED", "CELERY_BROKER_URL")})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)

    sink = Sink(procs.free_port()).start(env)
    api_key = m.fixtures_create(sink_port=sink.port, fanout=args.fanout)
    gunicorn = Gunicorn(procs.free_port(), config).start(env)
    ctx = m.Context(
        scale=m.Scale.quick() if args.quick else m.Scale(), config=config, env=env, sink=sink, gunicorn=gunicorn,
        api_key=api_key, fanout=args.fanout, deadline=started + args.max_minutes * 60, meter=cpu_meter(),
    )
    results = {"run": report.run_facts(config, quick=args.quick, fanout=args.fanout), "measurements": {}}
    try:
        measure_all(ctx, results["measurements"], only=args.only, profile=not args.no_profile)
    finally:
        procs.stop_all()
        from django.db import connections

        connections.close_all()
    results["run"]["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["run"]["duration_s"] = round(time.time() - started, 1)
    results["run"]["load_average_end"] = report.load_average()
    report.write(results)
    print(f"wrote {report.JSON_PATH} and {report.MD_PATH} in {results['run']['duration_s']} s")
    return 0


def in_process_only(names: list[str]) -> int:
    if not report.JSON_PATH.exists():
        sys.exit(f"{report.JSON_PATH} is missing: a full run (make bench) writes the figures these are merged into")
    os.environ.setdefault("BENCH_SECRET_KEY", secrets.token_urlsafe(50))
    env = bench_env.product_env()
    database_create(bench_env.MAIN_DB)
    os.environ.update({k: v for k, v in env.items() if k not in ("PYTHONUNBUFFERED", "CELERY_BROKER_URL")})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    out = {}
    for name in names:
        _step(out, name, IN_PROCESS[name])
        out[name]["separate_run"] = report.separate_run_facts()
    # A failed measurement keeps the last figures it had rather than replacing them with its error.
    measured = {name: result for name, result in out.items() if result["status"] == "measured"}
    if measured:
        report.merge(measured)
        print(f"merged {', '.join(measured)} into {report.JSON_PATH} and {report.MD_PATH}")
    return 0 if len(measured) == len(out) else 1


def measure_all(ctx: m.Context, out: dict, *, only: list[str] | None, profile: bool) -> None:
    steps = [
        ("noop_view", lambda: m.noop_view(ctx)),
        ("single_ingest", lambda: m.single_ingest(ctx)),
        ("single_ingest_at_1000", lambda: _if_measured(out, "single_ingest", lambda: m.single_ingest_p99_at_rate(ctx, 1000))),
        ("raw_inserts", lambda: m.raw_inserts(ctx)),
        ("batch_ingest", lambda: m.batch_ingest(ctx)),
        ("ingest_settle", lambda: m.ingest_rows_settle(ctx)),
        ("http_loop", lambda: m.http_loop(ctx)),
        ("delivery", lambda: m.delivery_throughput(ctx)),
        ("peer_django_webhook", lambda: m.peer_throughput(ctx, expected=_expected_postbacks(ctx, out))),
        ("latency_steady", lambda: m.latency_steady(ctx, single_rate=out.get("single_ingest", {}).get("per_second"))),
        ("latency", lambda: m.latency(ctx)),
        ("worker_kill", lambda: m.worker_kill(ctx, delivery_rate=out.get("delivery", {}).get("per_second"))),
        ("export_copy_baseline", lambda: _noted(ctx, "copy_rate", m.export_copy_baseline(ctx))),
    ]
    if profile:
        steps += [
            ("profile_ingest", lambda: _if_missed(out, "single_ingest", lambda: m.profile_ingest(ctx))),
            ("profile_delivery", lambda: _if_missed(out, "delivery", lambda: m.delivery_profile(ctx))),
        ]
    # In-process, before the export: they add rows of their own and remove them, and the export drops the database.
    steps += [(name, measure) for name, measure in IN_PROCESS.items()]
    # Last: the export script drops the database when it is done.
    steps.append(("export", lambda: m.export(ctx)))
    if profile:
        steps.append(("profile_export", lambda: _if_missed(out, "export", lambda: m.profile_export(ctx))))
    for name, step in steps:
        if only and name not in only:
            continue
        if ctx.seconds_left() < 20:
            out[name] = {"status": "skipped", "reason": "the run's time limit was reached"}
            continue
        _step(out, name, step)


def _step(out: dict, name: str, step) -> None:
    began = time.time()
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    try:
        out[name] = step()
    except Exception as exc:  # noqa: BLE001 - one broken measurement must not lose the others
        traceback.print_exc()
        out[name] = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:500]}
    out[name]["step_s"] = round(time.time() - began, 1)
    print(f"    {json.dumps(report.brief(out[name]))}", flush=True)


def _noted(ctx: m.Context, key: str, result: dict) -> dict:
    ctx.notes[key] = result.get("per_second")
    return result


def _expected_postbacks(ctx: m.Context, out: dict) -> int:
    delivery = out.get("delivery", {})
    return delivery.get("expected") or ctx.scale.delivery_events * ctx.fanout


def _if_measured(out: dict, name: str, step) -> dict:
    if out.get(name, {}).get("status") != "measured":
        return m.not_available(f"{name} was not measured")
    return {"status": "measured", **step()}


def _if_missed(out: dict, name: str, step) -> dict:
    if out.get(name, {}).get("status") != "measured":
        return {"status": "skipped", "reason": f"{name} was not measured"}
    if report.target_met(name, out) is not False:
        return {"status": "skipped", "reason": f"{name} met its target"}
    return step()


if __name__ == "__main__":
    sys.exit(main())
