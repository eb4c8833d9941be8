"""The benchmark report quotes the run it is printed with."""

import json

from bench import report
from bench.cpu import per_unit as cpu_per_unit
from bench.report import analysis_text, cpu_section, cpu_text, targets_section


def test_the_analysis_quotes_figures_and_ratios_of_the_run():
    out = {
        "single_ingest": {"status": "measured", "per_second": 372.0, "latency_ms": {"p99": 281.55}},
        "noop_view": {"status": "measured", "per_second": 1860.0},
    }
    text = "{{single_ingest.per_second}}/s, {{ratio:single_ingest/noop_view}}, p99 {{single_ingest.latency_ms.p99}} ms"

    assert analysis_text(text, out) == "372.0/s, 0.200x, p99 281.6 ms"


def test_a_figure_the_run_lacks_shows_as_a_dash():
    assert analysis_text("{{delivery.per_second}} and {{ratio:delivery/http_loop}}", {}) == "- and -"


def run_out(*, single: float, noop: float, web_ms: float | None = None) -> dict:
    cpu = None if web_ms is None else cpu_per_unit({"web": web_ms / 1000 * 100, "postgres": 0.03}, units=100,
                                                   unit="event")
    return {
        "single_ingest": {"status": "measured", "per_second": single, "cpu": cpu},
        "noop_view": {"status": "measured", "per_second": noop},
    }


def test_cpu_text_names_each_kind_that_spent_anything_and_the_sum():
    figures = cpu_per_unit({"web": 0.041, "worker": 0.0, "postgres": 0.03}, units=100, unit="event")

    assert cpu_text(figures) == "web 0.410, PostgreSQL 0.300 = 0.710 ms CPU/event"
    assert cpu_text(None) == "-"


def test_the_targets_table_shows_this_run_the_previous_run_and_the_target():
    previous = {"run": {"started_at": "2026-11-26T02:26:49Z", "git": {"commit": "3429c61"}},
                "measurements": run_out(single=339.3, noop=3949.8)}

    lines = targets_section(run_out(single=1000.0, noop=3000.0, web_ms=0.41), previous)

    assert "| figure | this run | previous run (2026-11-26T02:26:49Z, commit 3429c61) | target | verdict |" in lines
    assert "| single ingest / no-op Django view, same run | 0.333x | 0.086x | >= 0.25x | met |" in lines
    assert "| web CPU per event, single ingest | 0.410 ms | - | - | - |" in lines
    assert "| batch ingest, 1,000 per request, fan-out 2 | - | - | >= 12,000 ev/s | - |" in lines


def test_the_cpu_table_puts_the_previous_runs_figure_beside_each_kind():
    previous = {"measurements": run_out(single=339.3, noop=3949.8, web_ms=0.5)}

    lines = cpu_section(run_out(single=400.0, noop=3000.0, web_ms=0.41), previous)

    row = next(line for line in lines if line.startswith("| Single-event ingest |"))
    assert row.startswith("| Single-event ingest | event | 400.0 events/s | 0.410 (was 0.500) | - | - | 0.300 (was 0.300) |")
    assert row.endswith("| 0.710 (was 0.800) |")


def test_a_run_keeps_the_run_it_replaces_as_the_previous_one(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "JSON_PATH", tmp_path / "latest.json")
    monkeypatch.setattr(report, "PREVIOUS_PATH", tmp_path / "previous.json")
    monkeypatch.setattr(report, "MD_PATH", tmp_path / "RESULTS.md")
    first, second = sample_results("2026-11-26T02:26:49Z", single=339.3), sample_results("2026-11-27T10:00:00Z", single=500.0)

    report.write(first)
    report.write(second)

    assert json.loads((tmp_path / "previous.json").read_text())["run"]["started_at"] == "2026-11-26T02:26:49Z"
    assert json.loads((tmp_path / "latest.json").read_text())["run"]["started_at"] == "2026-11-27T10:00:00Z"
    assert "| single ingest / no-op Django view, same run | 0.167x | 0.113x | >= 0.25x | **missed** |" in (
        tmp_path / "RESULTS.md").read_text()


def sample_results(started_at: str, *, single: float) -> dict:
    hardware = {"nproc": 2, "cpu_model": "test", "memory_gib": 1.0, "kernel": "test"}
    versions = dict.fromkeys(("python", "Django", "djangorestframework", "celery", "gunicorn", "postgresql",
                              "redis_server", "django-webhook"), "1")
    run = {"started_at": started_at, "quick": False, "fanout": 2, "hardware": hardware, "versions": versions,
           "git": {"commit": "abc1234", "uncommitted_paths": 0}, "load_average_start": [0.1, 0.1, 0.1],
           "gunicorn": "g", "celery": "c", "client": "l", "sink": "s", "settings": "x"}
    return {"run": run, "measurements": run_out(single=single, noop=3000.0, web_ms=0.4)}
