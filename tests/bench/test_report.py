"""The benchmark report quotes the run it is printed with."""

from bench.report import analysis_text


def test_the_analysis_quotes_figures_and_ratios_of_the_run():
    out = {
        "single_ingest": {"status": "measured", "per_second": 372.0, "latency_ms": {"p99": 281.55}},
        "noop_view": {"status": "measured", "per_second": 1860.0},
    }
    text = "{{single_ingest.per_second}}/s, {{ratio:single_ingest/noop_view}}, p99 {{single_ingest.latency_ms.p99}} ms"

    assert analysis_text(text, out) == "372.0/s, 0.200x, p99 281.6 ms"


def test_a_figure_the_run_lacks_shows_as_a_dash():
    assert analysis_text("{{delivery.per_second}} and {{ratio:delivery/http_loop}}", {}) == "- and -"
