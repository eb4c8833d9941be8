"""Throwaway services and real processes for the fault suite, all on 127.0.0.1.

Each piece is a context manager that kills and removes what it started
whatever happens, and every wait is bounded. Nothing here touches the
shared PostgreSQL or Redis: faults are injected into servers these helpers
start on free ports of their own.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .processes import ROOT, celery_worker_argv, port_open, stop_process_group, wait_until

# The newest PostgreSQL server installed (Debian's layout); initdb and pg_ctl are not on PATH there.
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name), default=Path("/nonexistent")
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(argv: list[str], *, env: dict | None = None, log: Path, cwd: Path = ROOT, user: str | None = None):
    prefix = ["runuser", "-u", user, "--"] if user else []
    with open(log, "ab") as out:
        return subprocess.Popen(
            prefix + argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class RedisServer:
    """A redis-server of our own, without persistence, that a test may stop and start again on the same port."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.log = workdir / f"redis-{self.port}.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
                "--daemonize", "no"]
        self.process = _spawn(argv, log=self.log)
        wait_until(lambda: port_open("127.0.0.1", self.port, timeout=0.5), timeout=10, message=f"redis on {self.port}\n{tail(self.log)}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace_seconds=3)
            self.process = None


@contextlib.contextmanager
def redis_server(workdir: Path):
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class PostgresCluster:
    """An initdb'd cluster in a temporary directory, owned by the postgres OS user, on a port of its own."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.port = free_port()
        self.log = self.dir / "server.log"
        shutil.chown(self.dir, "postgres")

    def url(self, database: str = "faults") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, timeout=timeout, cwd=self.dir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8", timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.log), "-o", options,
                  "-w", "-t", "30", "start")

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "-t", "30", "stop")

    def create_database(self, name: str = "faults") -> None:
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def remove(self) -> None:
        pid_file = self.dir / "data" / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "-t", "20",
                          "stop", timeout=30)
        if pid_file.exists():  # pg_ctl could not stop it: the postmaster's pid is the file's first line
            with contextlib.suppress(ValueError, ProcessLookupError, OSError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster():
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
        yield cluster
    finally:
        cluster.remove()


def manage(env: dict, *args: str, timeout: float = 120) -> str:
    """Run a management command in a child process; returns its standard output."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, timeout=timeout,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result.stdout


@contextlib.contextmanager
def gunicorn(env: dict, workdir: Path, *, workers: int = 2, threads: int = 4):
    """The real web app; yields its base URL."""
    port = free_port()
    log = workdir / "gunicorn.log"
    argv = [str(Path(sys.executable).parent / "gunicorn"), "postback_platform.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "30", "--graceful-timeout", "2"]
    process = _spawn(argv, env=env, log=log)
    try:
        wait_until(lambda: port_open("127.0.0.1", port, timeout=0.5) or process.poll() is not None, timeout=30, message="gunicorn to listen")
        assert process.poll() is None, f"gunicorn exited:\n{tail(log)}"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process, grace_seconds=3)


@contextlib.contextmanager
def celery_beat(env: dict, workdir: Path):
    log = workdir / "beat.log"
    argv = [sys.executable, "-m", "celery", "-A", "postback_platform", "beat", "--loglevel", "INFO",
            "--schedule", str(workdir / "beat-schedule")]
    process = _spawn(argv, env=env, log=log)
    try:
        yield process
    finally:
        stop_process_group(process, grace_seconds=3)


def start_worker(env: dict, workdir: Path, *, name: str, concurrency: int = 1) -> subprocess.Popen:
    """A celery worker on the default queue; the caller stops (or kills) it."""
    argv = celery_worker_argv("--hostname", f"{name}@%h", concurrency=concurrency)
    return _spawn(argv, env=env, log=workdir / f"worker-{name}.log")


def start_listening_sender(env: dict, workdir: Path, *, name: str) -> subprocess.Popen:
    """``manage.py send_postbacks``, as the Procfile's sender line runs it; the caller stops (or kills) it."""
    return _spawn([sys.executable, "manage.py", "send_postbacks"], env=env, log=workdir / f"sender-{name}.log")


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a worker and its pool children at once: no warm shutdown, no acknowledgement."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def elapsed(since: float) -> float:
    return time.monotonic() - since


class SupervisedWorker:
    """A worker started again whenever it exits, as systemd's ``Restart=always`` or an orchestrator would do."""

    def __init__(self, env: dict, workdir: Path, *, name: str, concurrency: int = 1):
        self.env, self.workdir, self.name, self.concurrency = env, workdir, name, concurrency
        self.restarts = 0
        self._stopping = threading.Event()
        self.process = start_worker(env, workdir, name=name, concurrency=concurrency)
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            if self.process.poll() is not None:
                self.restarts += 1
                self.process = start_worker(self.env, self.workdir, name=f"{self.name}-{self.restarts}",
                                            concurrency=self.concurrency)

    def __enter__(self) -> "SupervisedWorker":
        self._watcher.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._watcher.join(timeout=5)
        stop_process_group(self.process, grace_seconds=2)
