"""Real worker processes for integration tests, always stopped and bounded in time."""

import contextlib
import os
import signal
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


@contextlib.contextmanager
def celery_worker(*, queues: str, env: dict[str, str], concurrency: int = 1, pool: str = "prefork"):
    """A ``celery worker`` process consuming ``queues``; killed on exit whatever happens."""
    command = [
        sys.executable, "-m", "celery", "-A", "postback_platform", "worker",
        "--queues", queues, "--pool", pool, "--concurrency", str(concurrency),
        "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process
    finally:
        stop_process_group(process)


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
