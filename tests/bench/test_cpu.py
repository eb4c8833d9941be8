"""CPU per process kind, read from a fake /proc: a wrong sum here would make every CPU figure wrong."""

import time

import pytest

from bench import cpu


def write_stat(proc, pid: int, *, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0,
               name: str = "python") -> None:
    # Fields as the kernel writes them; only ppid and the four times matter here.
    fields = ["S", ppid, pid, pid, 0, -1, 4194560, 100, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 1, 0]
    (proc / str(pid)).mkdir(exist_ok=True)
    (proc / str(pid) / "stat").write_text(f"{pid} ({name}) " + " ".join(map(str, fields)) + "\n")


def seconds(ticks: int) -> float:
    return ticks / cpu.TICKS_PER_SECOND


@pytest.fixture
def proc(tmp_path):
    # given: a master (100) with a worker (101) that has a child of its own (102), and an unrelated process (200)
    write_stat(tmp_path, 100, ppid=1, utime=100, stime=50, cutime=20, cstime=10, name="gunicorn: master (app)")
    write_stat(tmp_path, 101, ppid=100, utime=30, stime=5)
    write_stat(tmp_path, 102, ppid=101, utime=7, stime=3)
    write_stat(tmp_path, 200, ppid=1, utime=999, stime=999)
    (tmp_path / "self").mkdir()  # not a pid: ignored
    return tmp_path


def test_a_tree_counts_every_descendant_and_the_children_each_has_reaped(proc):
    children = cpu.children_map(proc)

    assert cpu.tree_seconds(100, children, proc) == pytest.approx(seconds(100 + 50 + 20 + 10 + 30 + 5 + 7 + 3))
    assert cpu.tree_seconds(101, children, proc) == pytest.approx(seconds(30 + 5 + 7 + 3))


def test_own_seconds_leave_children_out_and_a_command_name_with_parentheses_is_parsed(proc):
    assert cpu.own_seconds(100, proc) == pytest.approx(seconds(150))


def test_a_process_that_is_gone_reads_as_none(proc):
    assert cpu.own_seconds(4242, proc) is None
    assert cpu.tree_seconds(4242, cpu.children_map(proc), proc) is None


def meter(proc, roots: dict[str, list[int]], **options) -> cpu.Meter:
    # A long interval: the test takes every reading itself.
    return cpu.Meter({kind: (lambda pids=pids: pids) for kind, pids in roots.items()}, proc=proc, interval=3600,
                     **options)


def test_a_window_holds_what_each_kind_spent_between_its_start_and_its_stop(proc):
    window = meter(proc, {"web": [100], "client": [200]}, own_only={"client"}).window().start()

    # when: the worker spends 40 ticks and the client 10
    write_stat(proc, 101, ppid=100, utime=70, stime=5)
    write_stat(proc, 200, ppid=1, utime=1009, stime=999)
    spent = window.stop()

    # then
    assert spent == {"web": pytest.approx(seconds(40)), "client": pytest.approx(seconds(10))}


def test_a_child_reaped_inside_the_window_is_still_counted_by_its_parent(proc):
    window = meter(proc, {"web": [100]}).window().start()

    # when: the child 102 spends 5 more ticks, exits, and 101 reaps it
    (proc / "102" / "stat").unlink()
    (proc / "102").rmdir()
    write_stat(proc, 101, ppid=100, utime=30, stime=5, cutime=9, cstime=6)

    assert window.stop() == {"web": pytest.approx(seconds(5))}


def test_a_root_that_ends_inside_the_window_keeps_its_last_reading(proc):
    backends = [101]
    window = cpu.Meter({"postgres": lambda: backends}, proc=proc, interval=3600).window().start()
    write_stat(proc, 101, ppid=100, utime=50, stime=5)
    window.take()

    # when: the backend exits before the window closes
    backends.clear()

    assert window.stop() == {"postgres": pytest.approx(seconds(20))}


def test_a_root_first_seen_inside_the_window_counts_from_zero(proc):
    backends = [101]
    window = cpu.Meter({"postgres": lambda: backends}, proc=proc, interval=3600).window().start()

    # when: a new backend (300) starts and spends 6 ticks
    write_stat(proc, 300, ppid=1, utime=4, stime=2)
    backends.append(300)

    assert window.stop() == {"postgres": pytest.approx(seconds(6))}


def test_a_source_that_fails_counts_nothing_and_the_window_still_closes(proc):
    def broken():
        raise OSError("server gone")

    window = cpu.Meter({"postgres": broken, "web": lambda: [100]}, proc=proc, interval=3600).window().start()

    assert window.stop() == {"postgres": 0.0, "web": 0.0}


def test_a_window_samples_in_the_background_until_it_is_stopped(proc):
    window = cpu.Meter({"web": lambda: [102]}, proc=proc, interval=0.01).window().start()
    write_stat(proc, 102, ppid=101, utime=9, stime=3)

    try:
        assert _eventually(lambda: window.last[("web", 102)] == pytest.approx(seconds(12)))
    finally:
        window.stop()


def _eventually(check, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_cpu_per_unit_is_milliseconds_per_unit_for_each_kind_and_in_total():
    figures = cpu.per_unit({"web": 0.41, "postgres": 0.3, "redis": 0.0}, units=1000, unit="event")

    assert figures["ms_per_unit"] == {"web": 0.41, "postgres": 0.3, "redis": 0.0, "total": 0.71}
    assert (figures["unit"], figures["units"], figures["seconds"]["web"]) == ("event", 1000, 0.41)


def test_no_unit_of_work_gives_no_per_unit_figure():
    assert cpu.per_unit({"web": 1.0}, units=0, unit="postback")["ms_per_unit"] is None
