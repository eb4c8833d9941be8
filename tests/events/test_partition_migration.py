"""An installation with history upgrades to partitioned tables: every row, link and guarantee survives.

Runs the migrations in a fresh process against a database of its own: up
to the last unpartitioned state, rows written through the models of that
state, then the rest.
"""

import json
import uuid

import psycopg2
import pytest
from django.db import connection

from tests.support.fresh_process import run_python
from tests.support.services import child_database_url, require_postgres

pytestmark = pytest.mark.integration

BEFORE = [("deliveries", "0011_delivery_event_type_index"), ("events", "0009_player_registered_index"),
          ("partners", "0007_endpoint_credentials")]

SCRIPT = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

before = json.loads(sys.argv[1])
for app, name in before:
    call_command("migrate", app, name, verbosity=0)
apps = MigrationExecutor(connection).loader.project_state([tuple(node) for node in before]).apps
Partner, Endpoint = apps.get_model("partners", "Partner"), apps.get_model("partners", "PostbackEndpoint")
Player, Event = apps.get_model("events", "Player"), apps.get_model("events", "Event")
Delivery, Attempt = apps.get_model("deliveries", "Delivery"), apps.get_model("deliveries", "DeliveryAttempt")
now = timezone.now()
partner = Partner.objects.create(slug="acme", name="Acme")
endpoint = Endpoint.objects.create(partner=partner, name="main", url_template="https://acme.example/pb")
player = Player.objects.create(player_id="p-1", partner=partner)
events = [Event.objects.create(event_id=f"e-{n}", type_id="deposit", player=player, partner=partner, amount=10,
                               currency="EUR", occurred_at=now, content_hash="x") for n in range(3)]
for event in events:
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, partner=partner, event_type_id="deposit")
    Attempt.objects.create(delivery=delivery, number=1, request_method="GET", request_url="https://acme.example/pb")

call_command("migrate", verbosity=0)

from deliveries.models import Delivery, DeliveryAttempt
from events.models import Event
from lib.partitioning import partitions_list
fresh = Event.objects.create(event_id="after", type_id="registration", player_id="p-1", occurred_at=now,
                             content_hash="y")
Delivery.objects.create(event=fresh, endpoint_id=endpoint.pk, partner_id=partner.pk, event_type_id="registration")
try:
    with transaction.atomic():
        Event.objects.create(event_id="e-1", type_id="deposit", player_id="p-1", occurred_at=now, content_hash="z")
    reused = True
except IntegrityError:
    reused = False
try:
    with transaction.atomic():
        Delivery.objects.create(event_id=10**12, endpoint_id=endpoint.pk, partner_id=partner.pk, event_type_id="x")
    dangling = True
except IntegrityError:
    dangling = False
with connection.cursor() as cursor:
    cursor.execute("SELECT tableoid::regclass::text, event_id FROM events_event ORDER BY id")
    placed = cursor.fetchall()
print(json.dumps({
    "placed": placed,
    "old_ids": [event.pk for event in events],
    "kept": list(Event.objects.filter(event_id__startswith="e-").order_by("id").values_list("id", flat=True)),
    "deliveries": Delivery.objects.count(), "attempts": DeliveryAttempt.objects.count(),
    "reused": reused, "dangling": dangling,
    "partitions": sorted({item.name.rsplit("_p", 1)[1] for item in partitions_list()}),
}))
"""


@pytest.fixture
def database():
    require_postgres()
    name = f"partition_upgrade_{uuid.uuid4().hex[:10]}"
    admin = dict(host=connection.settings_dict["HOST"] or "127.0.0.1", port=connection.settings_dict["PORT"] or 5432,
                 user=connection.settings_dict["USER"] or "postgres", dbname="postgres")
    _run(admin, f"CREATE DATABASE {name}")
    try:
        yield child_database_url().rsplit("/", 1)[0] + f"/{name}"
    finally:
        _run(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run(params: dict, sql: str) -> None:
    raw = psycopg2.connect(**params)
    try:
        raw.autocommit = True  # CREATE and DROP DATABASE run outside a transaction
        raw.cursor().execute(sql)
    finally:
        raw.close()


def test_an_upgrade_keeps_every_row_and_partitions_what_comes_after(tmp_path, database):
    result = run_python(tmp_path, "-c", SCRIPT, json.dumps(BEFORE), DATABASE_URL=database,
                        SECRET_KEY="migration-test-key-0123456789abcdefghijklmnopqrstuvwxyz")

    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["kept"] == found["old_ids"]
    assert [table for table, event_id in found["placed"] if event_id.startswith("e-")] == ["events_event_p_before"] * 3
    assert [table for table, event_id in found["placed"] if event_id == "after"][0].startswith("events_event_p2")
    assert (found["deliveries"], found["attempts"]) == (4, 3)
    assert not found["reused"] and not found["dangling"]
    assert "_before" in found["partitions"] and len(found["partitions"]) == 1 + 1 + 3  # this month and 3 ahead
