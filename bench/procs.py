"""The processes a benchmark run starts: each in its own session, all killed when the run ends."""

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "bench" / "results" / "tmp"
PY = sys.executable

_started: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(name: str, argv: list[str], env: dict[str, str], *, kind: str | None = None) -> subprocess.Popen:
    """Start ``argv`` in its own session; ``kind`` (web, worker, beat, sink ...) is what its CPU is counted as."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it for its whole life
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.bench_name = name
    process.bench_kind = kind or name
    _started.append(process)
    return process


def stop(process: subprocess.Popen, *, grace_seconds: float = 5, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            pass
    # The group may outlive its leader (pool children): make sure nothing of it is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_seconds)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the whole group at once, as a crashed host would: no warm shutdown, no ack."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def group_pids(process: subprocess.Popen) -> list[int]:
    """Every process of ``process``'s group (it leads its own session): the main process and its pool."""
    listing = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True, check=False)
    return [int(pid) for pid in listing.stdout.split()]


def pids_of_kind(kind: str) -> list[int]:
    """Leaders of the started processes of one kind that have not been reaped yet."""
    return [process.pid for process in list(_started) if process.bench_kind == kind and process.returncode is None]


def stop_all() -> None:
    while _started:
        stop(_started.pop(), grace_seconds=3)


atexit.register(stop_all)


def wait_port(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.bench_name} exited with {process.returncode}; see {LOG_DIR}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_for_log(process: subprocess.Popen, text: str, *, timeout: float) -> None:
    """Wait until ``text`` shows in the process's log (e.g. Celery's "ready")."""
    path = LOG_DIR / f"{process.bench_name}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.bench_name} exited with {process.returncode}; see {path}")
        if text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.bench_name} did not log {text!r} within {timeout}s; see {path}")


def wait_until(predicate, *, timeout: float, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
