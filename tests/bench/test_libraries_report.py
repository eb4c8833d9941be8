"""RESULTS.md's table of libraries against what they replace, and merging a group measured on its own."""

import json

from bench import report
from bench.report import libraries_section


def pair(library_us: float, alternative_us: float, **extra) -> dict:
    return {"unit": "event", "library": {"cpu_us": library_us, "wall_us": library_us * 3},
            "alternative": {"cpu_us": alternative_us, "wall_us": alternative_us * 2}, **extra}


def row_of(lines: list[str], job: str, library: str = "") -> str:
    return next(line for line in lines if line.startswith(f"| {job} |") and library in line)


def test_a_pair_shows_both_cpu_figures_with_their_wall_time_and_the_ratio():
    out = {"libraries": {"status": "measured", "pairs": {"throttle_6000": pair(400.0, 80.0)}}}

    row = row_of(libraries_section(out), "Count an API key's requests, 6,000 in the window (the default budget)")

    assert "| 400.0 (1,200.0) | 80.0 (160.0) | 5.0x | hand-written: " in row


def test_the_why_quotes_the_figures_of_the_run_it_is_printed_with():
    config = {"partners": 100, "pickled_bytes": 53968, "alternative": {"cpu_us": 80.0, "wall_us": 270.0},
              "library_redis": {"cpu_us": 1090.0, "wall_us": 2950.0}}
    out = {"libraries": {"status": "measured", "pairs": {"config_100": config}}}

    row = row_of(libraries_section(out), "Routing configuration, 100 partners", "Django's cache (Redis)")

    assert "| 1,090.0 (2,950.0) | 80.0 (270.0) | 13.6x |" in row
    assert "53,968 bytes fetched and unpickled per request" in row


def test_bulk_writes_are_shown_per_row_written():
    writes = {"deliveries_update": {"rows": 2000, "django": {"cpu_ms": 958.6, "wall_ms": 2310.0},
                                    "hand_written": {"cpu_ms": 9.8, "wall_ms": 127.1}}}

    row = row_of(libraries_section({"bulk_writes": {"status": "measured", "writes": writes}}),
                 "Set 2,000 deliveries' outcomes")

    assert "| row | Django `bulk_update` | `rows_update` (`lib/rows.py`) | 479.3 (1,155.0) | 4.9 (63.5) | 97.8x |" in row


def test_the_sender_row_compares_the_stack_runs_cpu_and_links_their_rates():
    out = {"delivery": {"status": "measured", "per_second": 2400.0, "cpu": {"ms_per_unit": {"worker": 0.276}}},
           "http_loop": {"status": "measured", "per_second": 1600.0, "cpu": {"ms_per_unit": {"client": 0.537}}}}

    row = row_of(libraries_section(out), "Send a postback over HTTP")

    assert "| 276.0 | 537.0 | 0.514x |" in row
    assert "1.5x the loop's rate ([figures beside their baselines](#figures-beside-their-same-run-baselines))" in row


def test_a_run_without_the_measurements_shows_dashes():
    row = row_of(libraries_section({}), "Sign a postback (Standard Webhooks)")

    assert "| - | - | - | library: " in row


def test_a_group_measured_on_its_own_joins_the_last_runs_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "JSON_PATH", tmp_path / "latest.json")
    monkeypatch.setattr(report, "PREVIOUS_PATH", tmp_path / "previous.json")
    monkeypatch.setattr(report, "MD_PATH", tmp_path / "RESULTS.md")
    last_run = {"run": run_facts(), "measurements": {"noop_view": {"status": "measured", "per_second": 3000.0}}}
    report.JSON_PATH.write_text(json.dumps(last_run))
    report.PREVIOUS_PATH.write_text(json.dumps({"run": run_facts(), "measurements": {}}))
    previous_before = report.PREVIOUS_PATH.read_text()
    separate = {"at": "2026-12-05T09:20:58Z", "git": {"commit": "a3000ac", "uncommitted_paths": 0},
                "load_average": [0.2, 0.1, 0.1]}

    report.merge({"libraries": {"status": "measured", "pairs": {"signing": pair(4.4, 2.3)}, "separate_run": separate}})

    merged = json.loads(report.JSON_PATH.read_text())
    assert set(merged["measurements"]) == {"noop_view", "libraries"}
    assert merged["run"]["started_at"] == "2026-12-05T08:19:38Z"
    assert report.PREVIOUS_PATH.read_text() == previous_before
    text = report.MD_PATH.read_text()
    assert ("Measured on their own after this run and merged into its figures: `libraries` (2026-12-05T09:20:58Z, "
            "commit a3000ac, load average [0.2, 0.1, 0.1]).") in text
    assert "| 4.4 (13.2) | 2.3 (4.6) | 1.9x | library: " in text


def run_facts() -> dict:
    versions = dict.fromkeys(("python", "Django", "djangorestframework", "celery", "gunicorn", "postgresql",
                              "redis_server", "django-webhook"), "1")
    return {"started_at": "2026-12-05T08:19:38Z", "quick": False, "fanout": 2,
            "hardware": {"nproc": 2, "cpu_model": "test", "memory_gib": 1.0, "kernel": "test"}, "versions": versions,
            "git": {"commit": "bba7dc4", "uncommitted_paths": 0}, "load_average_start": [0.1, 0.1, 0.1],
            "gunicorn": "g", "celery": "c", "client": "l", "sink": "s", "settings": "x"}
