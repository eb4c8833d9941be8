"""Real worker processes for integration tests, always stopped and bounded in time."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    env.setdefault("SECRET_KEY", "tests-only-secret-key-9f6c1e0b7a2d4c58")
    return env


def celery_worker_argv(*options: str, concurrency: int = 1, pool: str = "prefork") -> list[str]:
    """A ``celery worker`` command line without the chatter (gossip, mingle, heartbeats) tests do not need."""
    return [
        sys.executable, "-m", "celery", "-A", "postback_platform", "worker", *options,
        "--pool", pool, "--concurrency", str(concurrency),
        "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]


@contextlib.contextmanager
def celery_worker(*, queues: str, env: dict[str, str], concurrency: int = 1, pool: str = "prefork"):
    """A ``celery worker`` process consuming ``queues``; killed on exit whatever happens."""
    process = subprocess.Popen(
        celery_worker_argv("--queues", queues, concurrency=concurrency, pool=pool),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_process_group(process)


@contextlib.contextmanager
def celery_worker_logging_to(log_path: Path, *, queues: str, env: dict[str, str], concurrency: int = 1):
    """``celery_worker`` writing to a file: hundreds of postbacks log more than a pipe holds unread."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            celery_worker_argv("--queues", queues, concurrency=concurrency), cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process_group(process)


def port_open(host: str, port: int, timeout: float = 1) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 5) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_seconds)


def wait_until(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def kill_processes_in(directory: Path) -> None:
    """SIGKILL every process working in ``directory``: what a process manager left behind when it was stopped."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if Path(os.readlink(proc / "cwd")).is_relative_to(directory):
                os.kill(int(proc.name), signal.SIGKILL)
