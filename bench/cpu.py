"""CPU time per process kind over a measurement window, read from /proc, to divide by the work done in it.

Rates on a shared two-core machine move by a factor of two between runs; the CPU time one event, postback
or row costs each kind of process moves far less, so every rate in RESULTS.md carries it.

A kind's figure is the sum over its root processes of utime + stime of the whole process tree, each
process counted with cutime + cstime (the children it has reaped): a pool child that exits is then still
counted, by its parent. A window samples every ``interval`` seconds, so a root that ends inside the window
(a PostgreSQL backend closing its connection) keeps the CPU of its last sample; a root first seen after the
window opened counts from zero, since all its work is the window's.
"""

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")

# Fields of /proc/<pid>/stat counted after the command name: state is 0, ppid 1, utime 11 ... cstime 14.
_PPID, _UTIME, _STIME, _CUTIME, _CSTIME = 1, 11, 12, 13, 14

Sources = dict[str, Callable[[], Iterable[int]]]


def _fields(pid: int, proc: Path) -> list[str] | None:
    try:
        text = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: the fields start after its last ")".
    return text[text.rindex(")") + 2:].split()


def own_seconds(pid: int, proc: Path = PROC) -> float | None:
    """utime + stime of one process (all its threads), without its children."""
    fields = _fields(pid, proc)
    return None if fields is None else (int(fields[_UTIME]) + int(fields[_STIME])) / TICKS_PER_SECOND


def children_map(proc: Path = PROC) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit() and (fields := _fields(int(entry.name), proc)) is not None:
            children.setdefault(int(fields[_PPID]), []).append(int(entry.name))
    return children


def tree_seconds(root: int, children: dict[int, list[int]], proc: Path = PROC) -> float | None:
    """CPU of ``root`` and every live descendant, each with the children it has reaped; None if root is gone."""
    total, pending, seen = None, [root], set()
    while pending:
        pid = pending.pop()
        if pid in seen or (fields := _fields(pid, proc)) is None:
            continue
        seen.add(pid)
        ticks = sum(int(fields[i]) for i in (_UTIME, _STIME, _CUTIME, _CSTIME))
        total = (total or 0) + ticks / TICKS_PER_SECOND
        pending += children.get(pid, [])
    return total


class Meter:
    """Reads each kind's CPU; ``own_only`` kinds count their root process alone (the orchestrator, whose
    children are the stack under test)."""

    def __init__(self, sources: Sources, *, own_only: Iterable[str] = (), proc: Path = PROC,
                 interval: float = 0.5) -> None:
        self.sources, self.own_only, self.proc, self.interval = sources, frozenset(own_only), proc, interval

    def sample(self) -> dict[tuple[str, int], float]:
        children = children_map(self.proc)
        seconds = {}
        for kind, roots in self.sources.items():
            for root in _safe(roots):
                value = own_seconds(root, self.proc) if kind in self.own_only else tree_seconds(
                    root, children, self.proc)
                if value is not None:
                    seconds[(kind, root)] = value
        return seconds

    def window(self) -> "Window":
        return Window(self)


def _safe(roots: Callable[[], Iterable[int]]) -> list[int]:
    try:
        return list(roots())
    except Exception:  # noqa: BLE001 - a source that cannot answer (database gone) counts nothing, not the run
        return []


class Window:
    """``with meter.window() as window: ...``; then ``window.seconds`` holds CPU seconds per kind."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.seconds: dict[str, float] = {}

    def take(self, *, opening: bool = False) -> None:
        """Read every kind now; the first reading of a root is its baseline (zero when it came after the start)."""
        for key, value in self.meter.sample().items():
            self.first.setdefault(key, value if opening else 0.0)
            self.last[key] = value

    def start(self) -> "Window":
        self.take(opening=True)
        self._thread = threading.Thread(target=self._sample_until_stopped, name="cpu-window", daemon=True)
        self._thread.start()
        return self

    def _sample_until_stopped(self) -> None:
        while not self._stopped.wait(self.meter.interval):
            self.take()

    def stop(self) -> dict[str, float]:
        if self._stopped.is_set():
            return self.seconds
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        self.take()
        self.seconds = {kind: 0.0 for kind in self.meter.sources}
        for (kind, root), value in self.last.items():
            self.seconds[kind] += max(0.0, value - self.first[(kind, root)])
        return self.seconds

    def __enter__(self) -> "Window":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def per_unit(seconds: dict[str, float], *, units: int | float | None, unit: str) -> dict:
    """CPU milliseconds per unit of work for each kind, and in total."""
    figures = {"unit": unit, "units": units, "seconds": {kind: round(value, 3) for kind, value in seconds.items()}}
    if not units:
        return figures | {"ms_per_unit": None}
    ms = {kind: round(value * 1000 / units, 6) for kind, value in seconds.items()}
    return figures | {"ms_per_unit": ms | {"total": round(sum(seconds.values()) * 1000 / units, 6)}}
