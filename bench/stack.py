"""The stack under test: database, Redis, sink, gunicorn and Celery, started and stopped by the run."""

import json
import os
import time
import urllib.request
from dataclasses import dataclass, field

import psycopg2
import redis
import requests
from celery import Celery

from . import cpu, procs
from . import env as bench_env
from .load import closed_loop, http_request


@dataclass
class StackConfig:
    gunicorn_workers: int = 3
    gunicorn_threads: int = 4
    celery_workers: int = 1
    celery_pool: str = "prefork"
    celery_concurrency: int = 2

    def gunicorn_description(self) -> str:
        return f"gunicorn gthread, {self.gunicorn_workers} workers x {self.gunicorn_threads} threads, keep-alive 30 s"

    def celery_description(self) -> str:
        return (
            f"{self.celery_workers} celery worker process(es), --pool {self.celery_pool} "
            f"--concurrency {self.celery_concurrency}, --prefetch-multiplier from settings; beside them, in the "
            "delivery and latency runs, one `manage.py send_postbacks` (the listening sender) where the tree has it, "
            "and then one pool child fewer: as many senders either way"
        )


def database_recreate(name: str) -> None:
    """Drop and create one of the benchmark's own databases (never any other)."""
    _bench_database(name, fresh=True)


def database_create(name: str) -> None:
    """Create one of the benchmark's own databases if it is missing; one that exists is left as it is."""
    _bench_database(name, fresh=False)


def _bench_database(name: str, *, fresh: bool) -> None:
    if name not in (bench_env.MAIN_DB, bench_env.SCALE_DB):
        raise ValueError(f"refusing to touch database {name!r}: only the benchmark's own databases are the bench's")
    connection = psycopg2.connect(bench_env.database_url("postgres"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        if fresh:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def redis_flush() -> None:
    for db in (bench_env.BROKER_DB, bench_env.CACHE_DB, bench_env.PEER_BROKER_DB):
        redis.Redis.from_url(bench_env.redis_url(db)).flushdb()


@dataclass
class Sink:
    port: int
    process: object = None

    def start(self, env: dict) -> "Sink":
        self.process = procs.start("sink", [procs.PY, "-m", "bench.sink", str(self.port)], env, kind="sink")
        procs.wait_port(self.port, timeout=10, process=self.process)
        return self

    def _call(self, method: str, path: str):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict:
        return self._call("GET", "/__stats")

    def dump(self) -> list[tuple[float, str]]:
        return self._call("GET", "/__dump")

    def reset(self) -> None:
        self._call("POST", "/__reset")

    def delay(self, milliseconds: int) -> None:
        self._call("POST", f"/__delay/{milliseconds}")


@dataclass
class Gunicorn:
    port: int
    config: StackConfig
    process: object = None

    def start(self, env: dict) -> "Gunicorn":
        argv = [
            procs.PY, "-m", "gunicorn", "postback_platform.wsgi",
            "--bind", f"127.0.0.1:{self.port}",
            "--worker-class", "gthread",
            "--workers", str(self.config.gunicorn_workers),
            "--threads", str(self.config.gunicorn_threads),
            "--keep-alive", "30", "--backlog", "2048", "--log-level", "warning",
        ]
        self.process = procs.start("gunicorn", argv, env, kind="web")
        procs.wait_port(self.port, timeout=30, process=self.process)
        self.warm_up()
        return self

    def warm_up(self, *, timeout: float = 60) -> None:
        """The master listens before its workers have imported Django: wait until every worker has answered."""
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while time.monotonic() < deadline:
                try:
                    if session.get(f"http://127.0.0.1:{self.port}/bench/noop", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.2)
        closed_loop(self.port, lambda _: http_request("GET", "/bench/noop"), count=50 * self.config.gunicorn_workers,
                    max_seconds=30, concurrency=4 * self.config.gunicorn_workers)


@dataclass
class CeleryWorkers:
    """``count`` worker processes of one app, each its own process group so one can be killed alone."""

    app: str
    env: dict
    config: StackConfig
    label: str
    processes: list = field(default_factory=list)

    def start(self, *, count: int | None = None, timeout: float = 60) -> "CeleryWorkers":
        count = self.config.celery_workers if count is None else count
        for number in range(count):
            name = f"{self.label}{number}-{int(time.time() * 1000)}"
            argv = [
                procs.PY, "-m", "celery", "-A", self.app, "worker", "-n", f"{name}@bench",
                "--pool", self.config.celery_pool, "--concurrency", str(self.config.celery_concurrency),
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            ]
            process = procs.start(name, argv, self.env, kind="worker")
            process.node_name = f"{name}@bench"
            self.processes.append(process)
        self.wait_ready(timeout=timeout)
        return self

    def wait_ready(self, *, timeout: float) -> None:
        # The run keeps CELERY_BROKER_URL out of its own environment: Celery would prefer it to ``broker=``.
        control = Celery(broker=self.env["CELERY_BROKER_URL"], set_as_current=False).control
        wanted = {process.node_name for process in self.processes}

        def all_answer():
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.bench_name} exited with {process.returncode}")
            replies = control.ping(destination=sorted(wanted), timeout=1.0)
            return wanted <= {name for reply in replies for name in reply}

        if not procs.wait_until(all_answer, timeout=timeout, interval=0.2):
            raise RuntimeError(f"celery workers {sorted(wanted)} did not answer a ping within {timeout}s")

    def stop(self) -> None:
        while self.processes:
            procs.stop(self.processes.pop(), grace_seconds=10)


LISTENING_SENDER = procs.ROOT / "deliveries" / "management" / "commands" / "send_postbacks.py"


def listening_sender_start(env: dict):
    """The Procfile's ``sender`` process (``LISTENING_SENDER``, in trees that have it), counted as a worker."""
    return procs.start("sender", [procs.PY, "manage.py", "send_postbacks"], env, kind="worker")


def beat_start(env: dict):
    procs.LOG_DIR.mkdir(parents=True, exist_ok=True)
    schedule = procs.LOG_DIR / "celerybeat-schedule"
    argv = [procs.PY, "-m", "celery", "-A", "postback_platform", "beat", "--loglevel", "WARNING",
            "--schedule", str(schedule)]
    return procs.start("beat", argv, env, kind="beat")


class _Backends:
    """The pids of PostgreSQL backends connected to one database, asked of the server itself.

    Its own connection goes to the ``postgres`` database, so it is never counted among them.
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self.connection = None

    def __call__(self) -> list[int]:
        if self.connection is None or self.connection.closed:
            self.connection = psycopg2.connect(bench_env.database_url("postgres"))
            self.connection.autocommit = True
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
            return [pid for (pid,) in cursor.fetchall()]


def cpu_meter() -> cpu.Meter:
    """CPU per process kind: the stack's processes by the kind they were started as, PostgreSQL's backends
    serving the benchmark database, the Redis server, and this process (the load client)."""
    redis_pid = redis.Redis.from_url(bench_env.redis_url(bench_env.CACHE_DB)).info("server")["process_id"]
    sources = {kind: (lambda kind=kind: procs.pids_of_kind(kind)) for kind in ("web", "worker", "beat")}
    sources |= {
        "postgres": _Backends(bench_env.MAIN_DB),
        "redis": lambda: [redis_pid],
        "sink": lambda: procs.pids_of_kind("sink"),
        "client": lambda: [os.getpid()],
    }
    return cpu.Meter(sources, own_only={"client"})
