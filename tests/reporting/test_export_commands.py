import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from reporting.exports import DELIVERY_COLUMNS, EVENT_COLUMNS
from reporting.progress import ProgressBar
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def _run(command: str, *args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_export_events_writes_the_api_csv_to_stdout_and_progress_to_stderr(platform_client):
    acme = PartnerFactory(slug="acme")
    for n in range(3):
        EventFactory(event_id=f"e-{n}", partner=acme, occurred_at=NOON)
    EventFactory(event_id="elsewhere", occurred_at=NOON)

    out, err = _run("export_events", "--partner", "acme", "--from", "2026-11-20")

    api = b"".join(platform_client.get("/api/v1/export/events.csv", {"partner": "acme"}).streaming_content)
    assert out == api.decode()
    assert [row[1] for row in csv.reader(io.StringIO(out))] == ["event_id", "e-0", "e-1", "e-2"]
    assert "] 100.0% 3/3 rows " in err
    assert err.endswith(" rows/s\n")


def test_export_deliveries_writes_a_file_with_a_bom(tmp_path):
    DeliveryFactory(status="delivered", event__occurred_at=NOON)
    DeliveryFactory(status="failed", event__occurred_at=NOON)
    target = tmp_path / "deliveries.csv"

    out, err = _run("export_deliveries", "--status", "failed", "--output", str(target), "--bom", "--no-progress")

    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))
    assert rows[0] == [column.header for column in DELIVERY_COLUMNS]
    assert [row[7] for row in rows[1:]] == ["failed"]
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert (out, err) == ("", "")


def test_a_bad_filter_names_the_option():
    with pytest.raises(CommandError, match="--event-type: Unknown value 'jackpot'"):
        _run("export_deliveries", "--event-type", "jackpot")


def test_an_unwritable_output_is_explained(tmp_path):
    with pytest.raises(CommandError, match="--output: cannot write"):
        _run("export_events", "--output", str(tmp_path / "missing" / "events.csv"), "--no-progress")


def test_export_of_nothing_is_just_the_header():
    out, _ = _run("export_events", "--no-progress")

    assert out == ",".join(column.header for column in EVENT_COLUMNS) + "\r\n"


def test_progress_bar_redraws_at_most_twice_a_second():
    lines, ticks = [], iter(range(100))
    bar = ProgressBar(total=5000, write=lines.append, clock=lambda: next(ticks) * 0.3)

    for _ in range(5):
        bar.advance(1000)
    bar.finish()

    # One chunk of 1,000 rows every 0.3 s: drawn at 2,000 and 4,000 rows, then the final line.
    assert [line.split("] ")[1].split(" rows")[0] for line in lines] == [
        " 40.0% 2,000/5,000", " 80.0% 4,000/5,000", "100.0% 5,000/5,000",
    ]
    assert lines[-1].endswith("\n") and lines[-1].startswith("\r[" + "#" * 30 + "]")


def test_progress_counts_every_row_of_a_long_export(monkeypatch):
    monkeypatch.setattr("reporting.csv_export.ROWS_PER_CHUNK", 2)
    for n in range(5):
        EventFactory(event_id=f"e-{n}", occurred_at=NOON)

    _, err = _run("export_events")

    assert "] 100.0% 5/5 rows " in err
