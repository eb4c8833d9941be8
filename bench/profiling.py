"""Sampling profiles with py-spy, summarised as the frames that hold the most samples."""

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TOP = 15


def py_spy() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def record(pid: int, *, seconds: float, name: str, during=None) -> dict:
    """Sample ``pid`` and its children for ``seconds`` while ``during()`` (if given) makes the load."""
    binary = py_spy()
    if binary is None:
        return {"status": "py-spy not installed"}
    raw = RESULTS / f"{name}.txt"
    argv = [binary, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds)),
            "--rate", "200", "--format", "raw", "--output", str(raw), "--nonblocking"]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    loader = threading.Thread(target=during) if during else None
    if loader:
        loader.start()
    try:
        _, error = spy.communicate(timeout=seconds + 90)
    except subprocess.TimeoutExpired:
        spy.kill()
        return {"status": "py-spy did not finish"}
    finally:
        if loader:
            loader.join(timeout=seconds + 90)
    if not raw.exists():
        return {"status": f"py-spy failed: {error.decode(errors='replace')[-300:]}"}
    return {"status": "recorded", "file": str(raw.relative_to(RESULTS.parent.parent)), **summarise(raw)}


def record_command(argv: list[str], *, name: str, env: dict, cwd: Path, timeout: float) -> dict:
    """Run ``argv`` (and its children) under py-spy from start to end."""
    binary = py_spy()
    if binary is None:
        return {"status": "py-spy not installed"}
    raw = RESULTS / f"{name}.txt"
    spy = [binary, "record", "--subprocesses", "--rate", "200", "--format", "raw", "--output", str(raw), "--", *argv]
    process = subprocess.Popen(spy, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        _, error = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # py-spy and the command it runs, children included
        process.wait()
        return {"status": "did not finish within the run's time limit"}
    if not raw.exists():
        return {"status": f"py-spy failed: {error.decode(errors='replace')[-300:]}"}
    return {"status": "recorded", "file": str(raw.relative_to(RESULTS.parent.parent)), **summarise(raw)}


def summarise(raw: Path) -> dict:
    """Self and inclusive sample shares per frame, from py-spy's collapsed-stack output."""
    own, inclusive, total = Counter(), Counter(), 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_short(frame) for frame in stack.split(";")]
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    share = lambda counter: [  # noqa: E731
        {"frame": frame, "share": round(n / total, 3)} for frame, n in counter.most_common(TOP)
    ]
    return {"samples": total, "top_self": share(own), "top_inclusive": share(_project_frames(inclusive))}


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)": lines differ per sample, the function does not.
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    return f"{name} ({'/'.join(parts[-2:])})" if where else name


def _project_frames(counter: Counter) -> Counter:
    """Inclusive time of the frames worth reading: drop the process/thread entry frames every sample shares."""
    skip = ("<module>", "run (threading.py)", "_bootstrap", "worker_loop", "run_for_one", "process", "main (")
    return Counter({frame: n for frame, n in counter.items() if not frame.startswith(skip)})
