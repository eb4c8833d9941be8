"""The bench's in-process measurements of wake-ups, erasure and storage, and their sections in RESULTS.md."""

import pytest

from bench import erasure_bench, sizing
from bench.report import erasure_section, sizing_section, wake_ups_section
from deliveries.models import DeliveryAttempt
from tests.factories import DeliveryFactory


def test_the_wake_up_section_shows_each_way_beside_the_writers_that_do_not_notify():
    ways = ("plain", "notify_inside", "notify_after", "redis_after")
    rates = dict(zip(ways, (10_000.0, 3_700.0, 8_000.0, 4_800.0)))
    out = {"wake_ups": {"status": "measured", "writers": 12, "seconds": 4.0, "rounds": 2,
                        "commits_per_second": rates,
                        "ratio_to_plain": {way: rate / 10_000.0 for way, rate in rates.items()},
                        "all_rounds": {way: [rate, rate - 1] for way, rate in rates.items()}}}

    text = "\n".join(wake_ups_section(out))

    assert "| `NOTIFY` inside the transaction | 3,700.0 | 0.370x | 3,700.0, 3,699.0 |" in text
    assert "after the commit, a statement of its own (the listening sender's wake-up) | 8,000.0 | 0.800x" in text


def test_the_erasure_section_gives_the_median_and_every_round():
    out = {"erasure": {"status": "measured", "rounds": 3, "events": 10_000, "deliveries": 20_000, "attempts": 20_000,
                       "wall_ms": 812.0, "cpu_ms": 240.5, "all_wall_ms": [900.1, 812.0, 790.4]}}

    text = "\n".join(erasure_section(out))

    assert "A player with 10,000 events, 20,000 deliveries and 20,000 attempts" in text
    assert "**812.0 ms** wall (900.1, 812.0, 790.4)" in text


def test_sections_of_a_run_without_them_say_how_to_measure():
    assert "python -m bench.run --only wake_ups" in "\n".join(wake_ups_section({}))
    assert "python -m bench.run --only erasure" in "\n".join(erasure_section({}))


@pytest.mark.django_db
def test_the_erasure_measurement_erases_the_whole_history_it_stored_and_leaves_nothing_behind():
    from events.models import Event, PlayerErasure

    result = erasure_bench.measure(rounds=1, events=20)

    assert result["status"] == "measured"
    assert (result["events"], result["deliveries"], result["attempts"]) == (20, 40, 40)
    assert result["wall_ms"] > 0
    assert not Event.objects.exists() and not PlayerErasure.objects.exists()  # each round is rolled back


@pytest.mark.django_db
def test_storage_is_measured_per_row_and_per_million_events_and_not_on_empty_tables():
    assert sizing.measure()["status"] == "not measured"
    for _ in range(3):
        DeliveryAttempt.objects.create(delivery=DeliveryFactory(), number=1, request_method="GET", request_url="x")

    result = sizing.measure(fanout=2)
    text = "\n".join(sizing_section({"sizing": result}))

    assert result["status"] == "measured"
    assert result["tables"]["event"]["rows"] == 3 and result["tables"]["attempt"]["rows"] == 3
    assert all(figures["bytes_per_row"] > 0 for figures in result["tables"].values())
    assert result["gib_per_million_events"] > 0
    assert "| attempt | 3 |" in text
    assert "A million events with fan-out 2" in text
