"""Facts about the run, the targets, and the two outputs: results/latest.json and RESULTS.md."""

import json
import os
import platform
import re
import shutil
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg2
import redis

from . import env as bench_env

BENCH = Path(__file__).resolve().parent
JSON_PATH = BENCH / "results" / "latest.json"
# The run before the latest one, kept when a run writes latest.json, for the "previous run" columns.
PREVIOUS_PATH = BENCH / "results" / "previous.json"
MD_PATH = BENCH / "RESULTS.md"
ANALYSIS_PATH = BENCH / "analysis.md"
PACKAGES = ("Django", "djangorestframework", "celery", "kombu", "redis", "gunicorn", "psycopg2-binary", "requests",
            "django-webhook", "py-spy")


EXPORT_ROWS_PER_SECOND = 50_000
EXPORT_TARGET = f">= {EXPORT_ROWS_PER_SECOND:,} rows/s, <= 100 MiB"


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def hardware() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release()}


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    with psycopg2.connect(bench_env.database_url()) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        found["postgresql"] = cursor.fetchone()[0]
    connection.close()
    found["redis_server"] = redis.Redis.from_url(bench_env.redis_url(bench_env.CACHE_DB)).info("server")["redis_version"]
    return found


def git_state() -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=BENCH.parent, capture_output=True, text=True, check=False).stdout
    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "uncommitted_paths": len(git("status", "--porcelain").splitlines())}


def run_facts(config, *, quick: bool, fanout: int) -> dict:
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": quick, "fanout": fanout, "hardware": hardware(), "versions": versions(), "git": git_state(),
        "load_average_start": load_average(),
        "gunicorn": config.gunicorn_description(), "celery": config.celery_description(),
        "client": "asyncio raw HTTP/1.1 keep-alive connections in the orchestrating process (bench/load.py)",
        "sink": "asyncio raw HTTP/1.1 keep-alive server in its own process (bench/sink.py)",
        "settings": "DEBUG=false, LOG_LEVEL=WARNING, PostgreSQL + Redis broker/cache, "
                    f"API_THROTTLE_RATE={bench_env.API_THROTTLE_RATE}",
    }


# --- targets -----------------------------------------------------------------------


def _get(out: dict, name: str, *path):
    value = out.get(name, {})
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def target_met(name: str, out: dict) -> bool | None:
    """True / False against the issue's target; None when there is nothing measured to judge."""
    if _get(out, name, "status") != "measured":
        return None
    checks = {
        "single_ingest": lambda: ratio(out, name, "noop_view") >= 0.25,
        "batch_ingest": lambda: _get(out, name, "per_second") >= 12_000,
        "delivery": lambda: ratio(out, name, "http_loop") >= 4 and ratio(out, name, "peer_django_webhook") >= 30,
        "latency": lambda: _get(out, name, "achieved_rate") >= 950 and _get(out, name, "lost") == 0
        and _get(out, name, "client_201_to_received_ms", "p50") <= 15
        and _get(out, name, "client_201_to_received_ms", "p99") <= 100,
        # Nothing held by the victim at the kill means the run proved nothing about re-attempts.
        "worker_kill": lambda: (_get(out, name, "lost") == 0 and _kill_within(out, 60)
                                if _get(out, name, "held_by_killed_worker") else None),
        # What an export needs (bench/analysis.md): the inline limit of 50,000 rows streams in a second, and a
        # 1M-row background export is written in 20 s.
        "export": lambda: all(size["rows_per_second"] >= EXPORT_ROWS_PER_SECOND and size["peak_memory_mib"] <= 100
                              for size in _get(out, name, "sizes").values()),
    }
    check = checks.get(name)
    if check is None:
        return None
    try:
        return bool(check())
    except (TypeError, AttributeError):
        return False


def _kill_within(out: dict, seconds: float) -> bool:
    delay = _get(out, "worker_kill", "held_reattempt_max_s")
    reattempted_all = _get(out, "worker_kill", "held_reattempted") == _get(out, "worker_kill", "held_by_killed_worker")
    return reattempted_all and delay is not None and delay <= seconds


def ratio(out: dict, name: str, baseline: str) -> float | None:
    figure, base = _get(out, name, "per_second"), _get(out, baseline, "per_second")
    if _get(out, name, "status") != "measured" or _get(out, baseline, "status") != "measured" or not base or not figure:
        return None
    return round(figure / base, 3)


def brief(result: dict) -> dict:
    keep = ("status", "reason", "per_second", "achieved_rate", "latency_ms", "client_201_to_received_ms",
            "accepted_to_received_ms", "lost", "duplicates",
            "unique", "expected", "held_reattempt_max_s", "kill_to_last_receipt_s", "step_s")
    return {k: v for k, v in result.items() if k in keep}


# --- outputs -----------------------------------------------------------------------


ROWS = (
    # (label, measurement, unit, baseline measurement, baseline label, target text)
    ("Single-event ingest", "single_ingest", "events/s", "noop_view", "no-op Django view, req/s",
     ">= 0.25x the no-op view"),
    ("Batch ingest (1,000 per request)", "batch_ingest", "events/s", "raw_inserts", "raw execute_values, events/s",
     ">= 12,000 events/s"),
    ("Postbacks delivered to the sink (a drained backlog, from when every sender is up)", "delivery", "postbacks/s", "http_loop", "bare requests.Session loop, req/s",
     ">= 4x the bare loop and >= 30x django-webhook"),
    ("django-webhook (peer), same sink and workers", "peer_django_webhook", "webhooks/s", None, None, "-"),
)


def _fmt(value, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}{suffix}" if 0 < abs(value) < 1 else f"{value:,.1f}{suffix}"
    return f"{value:,}{suffix}"


def _verdict(name: str, out: dict) -> str:
    met = target_met(name, out)
    status = _get(out, name, "status")
    if status != "measured":
        return f"**{status or 'not run'}**"
    return "met" if met else ("**missed**" if met is False else "-")


def markdown(results: dict, previous: dict | None = None) -> str:
    run, out = results["run"], results["measurements"]
    hw, v = run["hardware"], run["versions"]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `make bench` (`bench/run.py`) on {run['started_at']}, run time {run.get('duration_s')} s"
        f"{' (QUICK smoke run: small counts, not figures to quote)' if run['quick'] else ''}.",
        "Raw figures: [`results/latest.json`](results/latest.json).",
        *_separate_runs(out),
        "",
        "## Machine and stack",
        "",
        f"- Hardware: {hw['nproc']} cores, {hw['cpu_model']}, {hw['memory_gib']} GiB RAM, Linux {hw['kernel']}.",
        f"- Load average at start / end: {run['load_average_start']} / {run.get('load_average_end')} "
        "(everything - PostgreSQL, Redis, gunicorn, Celery, the sink and the load client - shares these cores;"
        " a load average above ~0.5 at the start means other work was running on the machine too).",
        f"- Versions: Python {v['python']}, Django {v['Django']}, DRF {v['djangorestframework']}, Celery {v['celery']},"
        f" gunicorn {v['gunicorn']}, PostgreSQL {v['postgresql']}, Redis {v['redis_server']},"
        f" django-webhook {v['django-webhook']}.",
        f"- Code: commit {run['git']['commit']} ({run['git']['uncommitted_paths']} uncommitted paths in the tree).",
        f"- Web: {run['gunicorn']}. Workers: {run['celery']}.",
        f"- Client: {run['client']}. Sink: {run['sink']}.",
        f"- Settings: {run['settings']}. Fan-out in the delivery runs: {run['fanout']} endpoints per event.",
        "",
        "## Figures beside their same-run baselines",
        "",
        "| measurement | figure | baseline (same run) | ratio | target | verdict | CPU per unit of work |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, name, unit, base, base_label, target in ROWS:
        figure = _get(out, name, "per_second")
        base_text = f"{_fmt(_get(out, base, 'per_second'))} ({base_label})" if base else "-"
        ratio_text = _fmt(ratio(out, name, base), "x") if base else "-"
        verdict = _verdict(name, out) if name != "peer_django_webhook" else _get(out, name, "status") or "not run"
        lines.append(f"| {label} | {_fmt(figure)} {unit} | {base_text} | {ratio_text} | {target} | {verdict} "
                     f"| {cpu_text(_get(out, name, 'cpu'))} |")
    lines += _latency_rows(out)
    lines += _kill_rows(out)
    lines += _export_rows(out)
    lines += ["", "Delivery vs django-webhook: " + _fmt(ratio(out, "delivery", "peer_django_webhook"), "x") + ".", ""]
    lines += targets_section(out, previous)
    lines += cpu_section(out, previous)
    lines += libraries_section(out)
    lines += wake_ups_section(out)
    lines += erasure_section(out)
    lines += retention_section(out)
    lines += sizing_section(out)
    lines += _volume()
    if ANALYSIS_PATH.exists():
        lines += [analysis_text(ANALYSIS_PATH.read_text(), out).strip(), ""]
    lines += _details(out)
    return "\n".join(lines) + "\n"


# In analysis.md, {{name.key.key}} is a figure of this run and {{ratio:name/baseline}} a ratio, so the
# prose about what limits each figure always quotes the run it is printed with.
_FIGURE = re.compile(r"\{\{(ratio:)?([\w./]+)\}\}")


def analysis_text(text: str, out: dict) -> str:
    def figure(match: re.Match) -> str:
        if match.group(1):
            name, baseline = match.group(2).split("/")
            return _fmt(ratio(out, name, baseline), "x")
        name, *path = match.group(2).split(".")
        return _fmt(_get(out, name, *path))

    return _FIGURE.sub(figure, text)


def _latency_rows(out: dict) -> list[str]:
    noop = _get(out, "noop_view", "latency_ms") or {}
    at_rate = _get(out, "single_ingest_at_1000", "latency_ms") or {}
    load = out.get("latency", {})
    steady = out.get("latency_steady", {})
    singles = load.get("single_events") or {}
    return [
        f"| Event accepted -> partner received, {_fmt(load.get('achieved_rate'))} events/s ingested in batches of "
        f"{_fmt(load.get('events_per_request'))} (fan-out 1) | {_gap_figure(load)} | no-op view round trip p50 "
        f"{_fmt(noop.get('p50'))} ms | - | p50 <= 15 ms, p99 <= 100 ms at 1,000 events/s | {_verdict('latency', out)} "
        f"| {cpu_text(load.get('cpu'))} |",
        f"| Single events posted beside that load, {_fmt(singles.get('rate'))}/s | {_gap_figure(singles)} | - | - | - "
        f"| {load.get('status') or 'not run'} | (in the row above) |",
        f"| Event accepted -> partner received, single events at a steady {_fmt(steady.get('rate'))}/s, nothing else "
        f"running | {_gap_figure(steady)} | - | - | - | {steady.get('status') or 'not run'} | {cpu_text(steady.get('cpu'))} |",
        f"| Single ingest at 1,000 events/s (open loop) | p50 {_fmt(at_rate.get('p50'))} / p99 "
        f"{_fmt(at_rate.get('p99'))} ms | - | - | - | {_get(out, 'single_ingest_at_1000', 'status') or 'not run'} "
        f"| {cpu_text(_get(out, 'single_ingest_at_1000', 'cpu'))} |",
    ]


def _gap_figure(figures: dict) -> str:
    # Two views: from the client reading the 201 (the event is committed then), and from the API's stamp
    # taken before the commit (an upper bound).
    seen = figures.get("client_201_to_received_ms") or {}
    stamped = figures.get("accepted_to_received_ms") or {}
    return (f"201 read by the client -> received p50 {_fmt(seen.get('p50'))} / p95 {_fmt(seen.get('p95'))} / p99 "
            f"{_fmt(seen.get('p99'))} ms; API stamp -> received p50 {_fmt(stamped.get('p50'))} / p99 "
            f"{_fmt(stamped.get('p99'))} ms")


def _kill_rows(out: dict) -> list[str]:
    kill = out.get("worker_kill", {})
    figure = (f"lost {_fmt(kill.get('lost'))}, duplicates {_fmt(kill.get('duplicates'))}, "
              f"{_fmt(kill.get('held_reattempted'))} of {_fmt(kill.get('held_by_killed_worker'))} deliveries held by the "
              f"killed worker re-sent, the last {_fmt(kill.get('held_reattempt_max_s'))} s after the kill, kill -> last receipt "
              f"{_fmt(kill.get('kill_to_last_receipt_s'))} s")
    return [f"| One of two workers SIGKILLed mid-run | {figure} | - | - | none lost, re-attempted within 60 s "
            f"| {_verdict('worker_kill', out)} | - |"]


def _export_rows(out: dict) -> list[str]:
    sizes = _get(out, "export", "sizes") or {}
    if not sizes:
        return [f"| CSV export, 10k and 1M rows | - | - | - | {EXPORT_TARGET} | {_verdict('export', out)} | - |"]
    return [
        f"| CSV export, {label} rows | {_fmt(size.get('rows_per_second'))} rows/s, peak {_fmt(size.get('peak_memory_mib'))}"
        f" MiB | {_fmt(size.get('baseline_rows_per_second'))} rows/s ({size.get('baseline', 'raw COPY')}) | "
        f"{_fmt(size.get('ratio'), 'x')} | {EXPORT_TARGET} | {_verdict('export', out)} "
        f"| {cpu_text(size.get('cpu'))} |"
        for label, size in sizes.items()
    ]


# --- CPU per unit of work, the targets and the previous run ---------------------------------


CPU_KINDS = (("web", "web"), ("worker", "worker"), ("beat", "beat"), ("postgres", "PostgreSQL"), ("redis", "Redis"),
             ("sink", "sink"), ("client", "client"))

CPU_LABELS = {
    "noop_view": ("No-op Django view", "req/s"),
    "single_ingest": ("Single-event ingest", "events/s"),
    "single_ingest_at_1000": ("Single ingest offered at 1,000 events/s", "events/s"),
    "raw_inserts": ("Raw execute_values (storage ceiling)", "events/s"),
    "batch_ingest": ("Batch ingest (1,000 per request)", "events/s"),
    "http_loop": ("Bare requests.Session loop", "req/s"),
    "delivery": ("Delivery of a drained backlog", "postbacks/s"),
    "peer_django_webhook": ("django-webhook (peer)", "webhooks/s"),
    "latency": ("Latency run: batches of 20 + single events, fan-out 1", "events/s"),
    "latency_steady": ("Latency run: steady single events", "events/s"),
    "export_copy_baseline": ("COPY TO STDOUT CSV (export ceiling)", "rows/s"),
}

CPU_EXPLAINED = (
    "CPU time per unit of work is utime + stime from `/proc/<pid>/stat`, summed over each process tree "
    "(with the children a process has reaped), read when a measurement's window opens and closes and every "
    "0.5 s between (a process that ends inside the window keeps its last reading), and divided by the units of "
    "work done in that window: requests, events ingested, postbacks delivered, rows exported. Rates on this "
    "shared machine move by a factor of two between runs; the CPU one unit costs moves far less, so these are the "
    "figures to compare across runs. Kinds: web = gunicorn master and workers; worker = Celery worker processes "
    "and their pool children (counted from the workers' first answer, so their start-up is left out), and in "
    "the delivery and latency runs the listening sender (counted from its first advertisement); beat = "
    "Celery beat, started beside the workers, so part of its own start-up falls inside the delivery windows; "
    "PostgreSQL = the backends serving `bench_main` (pids from `pg_stat_activity`; the server's "
    "shared processes - WAL writer, checkpointer, background writer - are not counted); Redis = `redis-server`, "
    "which other work on the machine uses too, so its figure is an upper bound; sink = the partner stand-in; "
    "client = the orchestrating process that runs the load client. Export rows: web = the export process "
    "(Django's handler, the CSV writer and the test client reading the file), PostgreSQL = its one backend."
)


def _cpu_ms(value: float) -> str:
    # Rows of an export cost microseconds: keep their digits.
    return f"{value:.5f}" if value < 0.01 else f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def cpu_text(figures: dict | None) -> str:
    """"web 0.410, PostgreSQL 0.300 = 0.710 ms CPU/event": the kinds that spent anything, and their sum."""
    ms = (figures or {}).get("ms_per_unit")
    if not ms:
        return "-"
    parts = [f"{label} {_cpu_ms(ms[kind])}" for kind, label in CPU_KINDS if ms.get(kind)]
    return ", ".join(parts) + f" = {_cpu_ms(ms['total'])} ms CPU/{figures['unit']}"


def _cpu_measured(out: dict) -> list[tuple[str, str, object, dict]]:
    """(key, label, rate, cpu figures) of every measurement that carries CPU figures, in run order."""
    rows = []
    for name, result in out.items():
        if isinstance(result.get("cpu"), dict):
            label, unit = CPU_LABELS.get(name, (name, "/s"))
            rate = result.get("per_second") or result.get("achieved_rate")
            rows.append((name, label, f"{_fmt(rate)} {unit}", result["cpu"]))
    for size, figures in (_get(out, "export", "sizes") or {}).items():
        if isinstance(figures.get("cpu"), dict):
            rows.append((f"export:{size}", f"CSV export, {size} rows", f"{_fmt(figures.get('rows_per_second'))} rows/s",
                         figures["cpu"]))
    return rows


def _cpu_cell(now: dict, before: dict | None, kind: str) -> str:
    value = (now.get("ms_per_unit") or {}).get(kind)
    was = ((before or {}).get("ms_per_unit") or {}).get(kind)
    text = _cpu_ms(value) if value else "-"
    return f"{text} (was {_cpu_ms(was)})" if was else text


def cpu_section(out: dict, previous: dict | None) -> list[str]:
    rows = _cpu_measured(out)
    lines = ["## CPU time per unit of work", "", CPU_EXPLAINED, ""]
    if not rows:
        return lines + ["No measurement of this run carries CPU figures.", ""]
    before = {key: figures for key, _, _, figures in _cpu_measured((previous or {}).get("measurements", {}))}
    kinds = " | ".join(label for _, label in CPU_KINDS)
    lines += ["Milliseconds of CPU per unit; \"(was x)\" is the previous run's figure.", "",
              f"| measurement | unit | rate (this run) | {kinds} | total |", "|---|---|---|" + "---|" * (len(CPU_KINDS) + 1)]
    for key, label, rate, figures in rows:
        cells = " | ".join(_cpu_cell(figures, before.get(key), kind) for kind, _ in [*CPU_KINDS, ("total", "")])
        lines.append(f"| {label} | {figures['unit']} | {rate} | {cells} |")
    return lines + [""]


def _latency_text(out: dict) -> str | None:
    gap = _get(out, "latency", "client_201_to_received_ms") or {}
    if _get(out, "latency", "status") != "measured" or gap.get("p50") is None:
        return None
    return f"{_fmt(gap['p50'])} / {_fmt(gap['p99'])} ms at {_fmt(_get(out, 'latency', 'achieved_rate'))} ev/s"


def _cpu_of(name: str, kind: str):
    return lambda out: _get(out, name, "cpu", "ms_per_unit", kind)


def _at_least(value, floor: float) -> bool | None:
    return None if value is None else value >= floor


# (figure, its value in a run's measurements, how it prints, target text, whether a value meets the target)
TARGET_ROWS = (
    ("single ingest / no-op Django view, same run", lambda out: ratio(out, "single_ingest", "noop_view"),
     lambda v: _fmt(v, "x"), ">= 0.25x", lambda out: _at_least(ratio(out, "single_ingest", "noop_view"), 0.25)),
    ("batch ingest, 1,000 per request, fan-out 2", lambda out: _get(out, "batch_ingest", "per_second"),
     lambda v: f"{_fmt(v)} ev/s", ">= 12,000 ev/s", lambda out: _at_least(_get(out, "batch_ingest", "per_second"), 12_000)),
    ("delivery / bare requests.Session loop, same run", lambda out: ratio(out, "delivery", "http_loop"),
     lambda v: _fmt(v, "x"), ">= 4x", lambda out: _at_least(ratio(out, "delivery", "http_loop"), 4)),
    ("delivery / django-webhook, same run", lambda out: ratio(out, "delivery", "peer_django_webhook"),
     lambda v: _fmt(v, "x"), ">= 30x", lambda out: _at_least(ratio(out, "delivery", "peer_django_webhook"), 30)),
    ("event -> partner at 1,000 ev/s (201 read -> received), p50 / p99", _latency_text, str, "<= 15 / <= 100 ms",
     lambda out: target_met("latency", out)),
    ("web CPU per event, single ingest", _cpu_of("single_ingest", "web"), lambda v: f"{_cpu_ms(v)} ms", "-", None),
    ("PostgreSQL CPU per event, single ingest", _cpu_of("single_ingest", "postgres"), lambda v: f"{_cpu_ms(v)} ms",
     "-", None),
    ("PostgreSQL CPU per event, batch ingest", _cpu_of("batch_ingest", "postgres"), lambda v: f"{_cpu_ms(v)} ms",
     "-", None),
    ("worker (sender) CPU per postback, delivery", _cpu_of("delivery", "worker"), lambda v: f"{_cpu_ms(v)} ms",
     "-", None),
    ("PostgreSQL CPU per postback, delivery", _cpu_of("delivery", "postgres"), lambda v: f"{_cpu_ms(v)} ms", "-", None),
)


def targets_section(out: dict, previous: dict | None) -> list[str]:
    before = (previous or {}).get("measurements", {})
    if previous:
        prun = previous.get("run", {})
        header = (f"previous run ({prun.get('started_at', '?')}, commit {_get(previous, 'run', 'git', 'commit') or '?'}"
                  f"{', QUICK' if prun.get('quick') else ''})")
    else:
        header = "previous run (none kept)"
    lines = ["## This run against the hot-path targets and the previous run", "",
             f"| figure | this run | {header} | target | verdict |", "|---|---|---|---|---|"]
    for label, value, shown, target, met in TARGET_ROWS:
        now, was = value(out), value(before)
        verdict = "-" if met is None else {True: "met", False: "**missed**", None: "-"}[met(out)]
        lines.append(f"| {label} | {'-' if now is None else shown(now)} | {'-' if was is None else shown(was)} "
                     f"| {target} | {verdict} |")
    return lines + [""]


# --- libraries against what they replace ----------------------------------------------


def _pair(pair: str, side: str):
    """A figure of bench/libraries.py: {cpu_us, wall_us} per unit."""
    return lambda out: _get(out, "libraries", "pairs", pair, side)


def _bulk(write: str, style: str):
    """A figure of bench/bulk_writes.py, per row written."""
    def figure(out: dict) -> dict | None:
        found, rows = _get(out, "bulk_writes", "writes", write, style), _get(out, "bulk_writes", "writes", write, "rows")
        if not found or not rows:
            return None
        return {"cpu_us": found["cpu_ms"] * 1000 / rows, "wall_us": found["wall_ms"] * 1000 / rows}
    return figure


def _stack_cpu(name: str, kind: str):
    """CPU per unit of one process kind in a stack measurement; its wall time is a rate, shown in its own table."""
    def figure(out: dict) -> dict | None:
        ms = _get(out, name, "cpu", "ms_per_unit", kind)
        return None if ms is None else {"cpu_us": ms * 1000}
    return figure


_SIGNING = "`standardwebhooks` (`partners/signing.py`)"
_THROTTLE_DRF = "DRF `SimpleRateThrottle`: the list of request times, read and written whole"
_THROTTLE_OWN = "sliding-window counter, one Redis round trip (`accounts/throttling.py`)"
_CONFIG_OWN = "per-process copy, its version read from Redis (`partners/config_cache.py`)"
_FIGURES_LINK = "[figures beside their baselines](#figures-beside-their-same-run-baselines)"

# (job, unit, library, alternative, library's figure, alternative's figure, which the product uses, why).
# ``why`` may quote the run like analysis.md: {{name.key}}, {{ratio:name/baseline}}.
LIBRARY_ROWS = (
    ("Sign a postback (Standard Webhooks)", "postback", _SIGNING, "HMAC-SHA256 by hand (`hmac`, `base64`)",
     _pair("signing", "library"), _pair("signing", "alternative"), "library",
     "partners verify with this package: the signature cannot drift from theirs, for a few µs of the sender's "
     "{{delivery.cpu.ms_per_unit.worker}} ms per postback"),
    ("Count an API key's requests, 600 in the window (10 events/s)", "event", _THROTTLE_DRF, _THROTTLE_OWN,
     _pair("throttle_600", "library"), _pair("throttle_600", "alternative"), "hand-written",
     "DRF's cost grows with the rate; the counter's does not"),
    ("Count an API key's requests, 6,000 in the window (the default budget)", "event", _THROTTLE_DRF, _THROTTLE_OWN,
     _pair("throttle_6000", "library"), _pair("throttle_6000", "alternative"), "hand-written",
     "at the budget DRF moves the whole list through Redis on every request"),
    ("Routing configuration, {{libraries.pairs.config_20.partners}} partners", "event",
     "Django's cache (LocMem): the whole configuration each request", _CONFIG_OWN,
     _pair("config_20", "library_locmem"), _pair("config_20", "alternative"), "hand-written",
     "LocMem unpickles the configuration on every get, and cannot tell other processes of a change"),
    ("Routing configuration, {{libraries.pairs.config_20.partners}} partners", "event",
     "Django's cache (Redis): the whole configuration each request", _CONFIG_OWN,
     _pair("config_20", "library_redis"), _pair("config_20", "alternative"), "hand-written",
     "{{libraries.pairs.config_20.pickled_bytes}} bytes fetched and unpickled per request against a version token"),
    ("Routing configuration, {{libraries.pairs.config_100.partners}} partners", "event",
     "Django's cache (LocMem): the whole configuration each request", _CONFIG_OWN,
     _pair("config_100", "library_locmem"), _pair("config_100", "alternative"), "hand-written",
     "the cost of a cached copy grows with the configuration; the per-process copy's does not"),
    ("Routing configuration, {{libraries.pairs.config_100.partners}} partners", "event",
     "Django's cache (Redis): the whole configuration each request", _CONFIG_OWN,
     _pair("config_100", "library_redis"), _pair("config_100", "alternative"), "hand-written",
     "{{libraries.pairs.config_100.pickled_bytes}} bytes fetched and unpickled per request against a version token"),
    ("Insert a batch's 1,000 events", "row", "Django `bulk_create`", "`rows_insert` (`lib/rows.py`)",
     _bulk("events_insert", "django"), _bulk("events_insert", "hand_written"), "hand-written",
     "a model instance per row costs Python CPU, and the batch ingest writes thousands"),
    ("Insert 2,000 deliveries", "row", "Django `bulk_create`", "`rows_insert` (`lib/rows.py`)",
     _bulk("deliveries_insert", "django"), _bulk("deliveries_insert", "hand_written"), "hand-written",
     "as above"),
    ("Set 2,000 deliveries' outcomes", "row", "Django `bulk_update`", "`rows_update` (`lib/rows.py`)",
     _bulk("deliveries_update", "django"), _bulk("deliveries_update", "hand_written"), "hand-written",
     "one `CASE WHEN` per row and column, and no way to keep to the rows still leased to the sender"),
    ("Send a postback over HTTP", "postback", "pycurl / libcurl multi (`lib/http.py`), the whole sender's CPU",
     "bare `requests.Session` loop, its HTTP alone", _stack_cpu("delivery", "worker"), _stack_cpu("http_loop", "client"),
     "library", "the sender delivers {{ratio:delivery/http_loop}} the loop's rate (" + _FIGURES_LINK + ")"),
)

LIBRARIES_EXPLAINED = (
    "CPU time of the process per unit of work (`time.process_time()` over a fixed number of calls, median of "
    "five rounds; `bench/libraries.py`, `bench/bulk_writes.py`), wall time in brackets: a Redis round trip "
    "waits more than it computes. The library and its alternative run on the same input in the same run; the "
    "ratio is the library's CPU over the alternative's, so above 1 the library costs more. In the API the "
    "throttle's commands and the configuration's version ride in the round trip the authentication makes "
    "anyway (`lib/shared_reads.py`); these rows time them in a round trip of their own. Bulk writes "
    "count this process's CPU, not PostgreSQL's. The sender row compares the stack measurements' CPU per "
    "postback (the Celery worker doing everything a delivery needs) and per request (the bare loop)."
)


def _us(figure: dict | None) -> str:
    if not figure or figure.get("cpu_us") is None:
        return "-"
    wall = figure.get("wall_us")
    return _fmt(float(figure["cpu_us"])) + ("" if wall is None else f" ({_fmt(float(wall))})")


def libraries_section(out: dict) -> list[str]:
    lines = ["## Libraries against what they replace", "", LIBRARIES_EXPLAINED, "",
             "| job | unit | library | alternative | library, µs CPU (wall) | alternative, µs CPU (wall) "
             "| library / alternative | used, and why |", "|---|---|---|---|---|---|---|---|"]
    for job, unit, library, alternative, library_figure, alternative_figure, used, why in LIBRARY_ROWS:
        mine, theirs = library_figure(out), alternative_figure(out)
        share = (mine["cpu_us"] / theirs["cpu_us"]
                 if mine and theirs and mine.get("cpu_us") and theirs.get("cpu_us") else None)
        lines.append(f"| {analysis_text(job, out)} | {unit} | {library} | {alternative} | {_us(mine)} | {_us(theirs)} "
                     f"| {_fmt(share, 'x')} | {used}: {analysis_text(why, out)} |")
    return lines + [""]


_WAYS = (
    ("plain", "no wake-up (the ceiling)"),
    ("notify_inside", "`NOTIFY` inside the transaction"),
    ("notify_after", "`NOTIFY` after the commit, a statement of its own (the listening sender's wake-up)"),
    ("redis_after", "Redis `SET NX` after the commit (the Celery wake-up's flag, without its broker message)"),
)


def _section_head(out: dict, name: str, heading: str, *, after: str = "") -> tuple[list[str], dict | None]:
    """A section's heading, and the measurement's figures; without them, how to take them instead."""
    found = out.get(name, {})
    lines = [f"## {heading}", ""]
    if found.get("status") != "measured":
        return lines + [f"Not measured: run `python -m bench.run --only {name}`{after}.", ""], None
    return lines, found


def wake_ups_section(out: dict) -> list[str]:
    """``bench/wake_ups.py``: what each way of waking the sender costs the writers that commit."""
    lines, found = _section_head(out, "wake_ups", "Waking the sender")
    if found is None:
        return lines
    lines += [
        f"{found['writers']} writers, each on its own connection, insert a row and commit (durably) as fast as they "
        f"can for {_fmt(found['seconds'])} s, each way in turn, {found['rounds']} rounds; the best round of each "
        "(`bench/wake_ups.py`). A listening connection is open, as the listening sender's is.", "",
        "| wake-up | commits/s | / no wake-up | every round |", "|---|---|---|---|",
    ]
    for way, label in _WAYS:
        rounds = ", ".join(_fmt(rate) for rate in found["all_rounds"][way])
        lines.append(f"| {label} | {_fmt(found['commits_per_second'][way])} | {_fmt(found['ratio_to_plain'][way], 'x')} "
                     f"| {rounds} |")
    return lines + ["", "PostgreSQL queues a transaction's notifications under one lock, held until its commit is "
                    "flushed, so writers that notify inside their transactions commit one after another; a "
                    "`NOTIFY` after the commit holds that lock only for a transaction that flushes nothing.", ""]


def erasure_section(out: dict) -> list[str]:
    """``bench/erasure_bench.py``: erasing a player with a long history."""
    lines, found = _section_head(out, "erasure", "Erasing a player")
    if found is None:
        return lines
    rounds = ", ".join(_fmt(wall) for wall in found["all_wall_ms"])
    return lines + [
        f"A player with {_fmt(found['events'])} events, {_fmt(found['deliveries'])} deliveries and "
        f"{_fmt(found['attempts'])} attempts, erased by `player_erase` (the API's and the admin action's "
        f"service), median of {found['rounds']} rounds, each rolled back (`bench/erasure_bench.py`): "
        f"**{_fmt(found['wall_ms'])} ms** wall ({rounds}), {_fmt(found['cpu_ms'])} ms of this process's CPU. "
        "The player's rows are locked for that long: an ingest for this player waits, no other player's does.",
        "",
    ]


def retention_section(out: dict) -> list[str]:
    """``bench/retention_bench.py``: dropping a month while ingest goes on."""
    lines, found = _section_head(out, "retention", "Dropping a month by retention")
    if found is None:
        return lines
    return lines + [
        f"A month of {_fmt(found['events'])} events, {_fmt(found['deliveries'])} deliveries and "
        f"{_fmt(found['attempts'])} attempts (its partitions filled in {_fmt(found['fill_seconds'])} s), dropped by "
        f"`retention_apply` with 30-day limits while a writer commits an event and its delivery per transaction "
        f"into this month (`bench/retention_bench.py`):", "",
        "| figure | value |", "|---|---|",
        f"| retention's whole run | {_fmt(found['retention_ms'])} ms |",
        f"| freeing the month's event_ids in the key table (a batch per transaction; blocks no one) "
        f"| {_fmt(found['release_ms'])} ms |",
        f"| the transaction that detaches and drops the partitions (target: under a second) "
        f"| **{_fmt(found['drop_ms'])} ms** |",
        f"| the writer's longest transaction while retention ran ({_fmt(found['writer_transactions_during'])} "
        f"transactions; target: under a second) | **{_fmt(found['writer_max_during_ms'])} ms** |",
        f"| the writer's transactions before and after: median / longest | {_fmt(found['writer_p50_outside_ms'])} / "
        f"{_fmt(found['writer_max_outside_ms'])} ms |",
        "",
    ]


def sizing_section(out: dict) -> list[str]:
    """``bench/sizing.py``: disk per stored row and per million events."""
    lines, found = _section_head(out, "sizing", "Storage per million events", after=" after a full run")
    if found is None:
        return lines
    lines += [
        "Each table's whole size on disk (heap, TOAST, every index) over its rows, as this run's measurements "
        "left them (`bench/sizing.py`; updated deliveries' dead versions included, as autovacuum had them).", "",
        "| table | rows | size | bytes per row |", "|---|---|---|---|",
    ]
    for kind, figures in found["tables"].items():
        lines.append(f"| {kind} | {_fmt(figures['rows'])} | {_fmt(round(figures['bytes'] / 2**20, 1))} MiB "
                     f"| {_fmt(figures['bytes_per_row'])} |")
    return lines + [
        "", f"A million events with fan-out {found['fanout']} (one event row, {_fmt(found['players_per_event'])} "
        f"players per event as here, {found['fanout']} deliveries and {found['fanout']} attempts): "
        f"**{_fmt(found['gib_per_million_events'])} GiB**.", "",
    ]


def separate_run_facts() -> dict:
    """When and on what code a measurement run on its own (``--only`` in-process) was taken."""
    return {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git": git_state(),
            "load_average": load_average()}


def _separate_runs(out: dict) -> list[str]:
    merged = [f"`{name}` ({result['separate_run']['at']}, commit {result['separate_run']['git']['commit']}, "
              f"load average {result['separate_run']['load_average']})"
              for name, result in out.items() if isinstance(result.get("separate_run"), dict)]
    return ["Measured on their own after this run and merged into its figures: " + ", ".join(merged) + "."] if merged else []


def _volume() -> list[str]:
    """Issue item 4: the admin and the stats API on the bench_scale database (bench/scale_load.py, scale_check.py)."""
    load_path, check_path = BENCH / "results" / "bench_scale-load.json", BENCH / "results" / "bench_scale-scale.json"
    if not check_path.exists():
        return ["## Admin and stats API at volume", "", "Not measured: run `python -m bench.scale_load` and "
                "`python -m bench.scale_check`.", ""]
    check = json.loads(check_path.read_text())
    load = json.loads(load_path.read_text()) if load_path.exists() else {}
    rows = check.get("rows", {})
    filled = [item for item in check.get("event_partitions", []) if item["rows"]]
    partitions = (f"; events in {len(check['event_partitions'])} monthly partitions, "
                  + ", ".join(f"{item['period']}: {item['rows']:,}" for item in filled)
                  + ", and deliveries and attempts alike" if filled else "")
    lines = [
        "## Admin and stats API at volume",
        "",
        f"Database `bench_scale`: {rows.get('events_event', 0):,} events, {rows.get('events_player', 0):,} players, "
        f"{rows.get('deliveries_delivery', 0):,} deliveries, {rows.get('deliveries_deliveryattempt', 0):,} attempts "
        f"({load.get('size', '?')}; loaded in {load.get('total_s', '?')} s by `bench/scale_load.py`{partitions}). "
        "Each page is fetched 3 times through Django's test client; the figure is the slower of the two warm fetches, "
        "the first (cold) one is shown too; a page over 5 s is fetched once. Plans of each page's slowest queries "
        "(EXPLAIN ANALYZE, BUFFERS; plain EXPLAIN for statements over 5 s) are in "
        "`results/scale-plans/`, each linked from its page's row. Limit: 500 ms.",
        "",
        "| page | warm ms | cold ms | SQL ms (last fetch) | queries | within 500 ms | measured at | plans |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for page in check["pages"]:
        plans = page["plans"]
        lines.append(f"| {page['label']} (`{page['url']}`) | {page['ms']:,.1f} | {page['cold_ms']:,.1f} | "
                     f"{_fmt(page.get('sql_ms'))} | {page['queries']} | {'yes' if page['within_limit'] else '**no**'} | "
                     f"{page.get('measured_at', '-')} | [plan]({plans}) |")
    return lines + [""]


def _details(out: dict) -> list[str]:
    lines = ["## Every measurement", ""]
    # Helper steps (no status) only prepare the next measurement.
    missing = [name for name, result in out.items()
               if "status" in result and result["status"] not in ("measured", "recorded")]
    if missing:
        lines += ["Not measured in this run: " + ", ".join(
            f"`{name}` ({out[name].get('status')}: {out[name].get('reason', '')})" for name in missing) + ".", ""]
    for name, result in out.items():
        shown = {k: v for k, v in result.items() if k not in ("top_self", "top_inclusive")}
        lines += [f"### {name}", "", "```json", json.dumps(shown, indent=1, default=str), "```", ""]
        for key in ("top_self", "top_inclusive"):
            if result.get(key):
                lines += [f"{key.replace('_', ' ')} (share of {result.get('samples')} samples):", ""]
                lines += [f"- {row['share']:.1%} `{row['frame']}`" for row in result[key]]
                lines.append("")
    return lines


def write(results: dict) -> None:
    """Write latest.json and RESULTS.md; the latest.json they replace is kept as previous.json first."""
    JSON_PATH.parent.mkdir(parents=True, exist_ok=True)
    previous = None
    if JSON_PATH.exists():
        previous = json.loads(JSON_PATH.read_text())
        shutil.copyfile(JSON_PATH, PREVIOUS_PATH)
    results["summary"] = {
        name: {"target_met": target_met(name, results["measurements"])}
        for name in ("single_ingest", "batch_ingest", "delivery", "latency", "worker_kill", "export")
    }
    results["summary"]["ratios"] = {
        "single_ingest/noop_view": ratio(results["measurements"], "single_ingest", "noop_view"),
        "batch_ingest/raw_inserts": ratio(results["measurements"], "batch_ingest", "raw_inserts"),
        "delivery/http_loop": ratio(results["measurements"], "delivery", "http_loop"),
        "delivery/peer_django_webhook": ratio(results["measurements"], "delivery", "peer_django_webhook"),
    }
    JSON_PATH.write_text(json.dumps(results, indent=1, default=str) + "\n")
    MD_PATH.write_text(markdown(results, previous))


def merge(measured: dict) -> None:
    """Put measurements taken on their own into latest.json beside the last run's, and render RESULTS.md again.

    previous.json is left alone: its columns compare whole runs.
    """
    results = json.loads(JSON_PATH.read_text())
    results["measurements"].update(measured)
    JSON_PATH.write_text(json.dumps(results, indent=1, default=str) + "\n")
    MD_PATH.write_text(markdown(results, json.loads(PREVIOUS_PATH.read_text()) if PREVIOUS_PATH.exists() else None))


if __name__ == "__main__":
    # Re-render RESULTS.md from results/latest.json (after editing bench/analysis.md), without measuring again.
    MD_PATH.write_text(markdown(json.loads(JSON_PATH.read_text()),
                                json.loads(PREVIOUS_PATH.read_text()) if PREVIOUS_PATH.exists() else None))
    print(f"wrote {MD_PATH}")
