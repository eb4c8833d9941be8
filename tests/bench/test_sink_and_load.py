"""The benchmark's own instruments: a wrong count here would make every figure wrong."""

import json
import subprocess
import sys
import time
import urllib.request

import pytest
import requests

from bench import procs
from bench.load import closed_loop, http_request, open_loop, percentile


@pytest.fixture
def sink_port():
    port = procs.free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.sink", str(port)], cwd=procs.ROOT)
    try:
        procs.wait_port(port, timeout=10, process=process)
        yield port
    finally:
        process.kill()
        process.wait(timeout=10)


def sink_stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats", timeout=5) as response:
        return json.loads(response.read())


def test_sink_counts_requests_distinct_targets_and_connections(sink_port):
    with requests.Session() as session:
        for target in ("/pb?d=1", "/pb?d=2", "/pb?d=1"):
            assert session.post(f"http://127.0.0.1:{sink_port}{target}", data=b"x" * 10, timeout=5).text == "OK"

    stats = sink_stats(sink_port)

    assert (stats["count"], stats["unique"], stats["connections"]) == (3, 2, 1)
    assert stats["first"] <= stats["last"]


def test_closed_loop_stops_at_its_request_count_over_keep_alive_connections(sink_port):
    result = closed_loop(sink_port, lambda i: http_request("GET", f"/load?{i}"), count=50, max_seconds=10,
                         concurrency=4)

    assert result.ok_count(200) == 50
    assert sink_stats(sink_port)["connections"] == 4


def test_closed_loop_stops_at_its_time_limit(sink_port):
    result = closed_loop(sink_port, lambda i: http_request("GET", "/load"), count=10**9, max_seconds=0.3,
                         concurrency=2)

    assert 0 < len(result.outcomes) < 10**9
    assert result.elapsed < 2


def test_open_loop_stops_at_its_time_limit():
    result = open_loop(procs.free_port(), lambda i: b"", rate=10, count=1000, max_seconds=0.3, concurrency=2)

    assert len(result.outcomes) == 0
    assert sum(result.errors.values()) <= 4  # at most the requests due within 0.3 s at 10/s


def test_percentile_picks_the_value_below_which_the_fraction_lies():
    values = list(range(1, 101))

    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (51, 100, None)


def test_sink_answers_late_when_told_to_play_a_slow_partner(sink_port):
    with requests.Session() as session:
        session.post(f"http://127.0.0.1:{sink_port}/__delay/150", timeout=5)
        started = time.monotonic()
        answer = session.get(f"http://127.0.0.1:{sink_port}/pb?d=1", timeout=5)
        took = time.monotonic() - started
        session.post(f"http://127.0.0.1:{sink_port}/__delay/0", timeout=5)

    assert answer.text == "OK"
    assert took >= 0.15
