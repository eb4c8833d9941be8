"""player_erase: the player's values leave every table, statistics stay, and the id may come back as someone new."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, OperationalError

from deliveries.models import Delivery, DeliveryAttempt
from deliveries.services import DeliveryStateError, deliveries_resend, delivery_resend
from events.models import Event, Player, PlayerErasure
from events.pseudonyms import player_pseudonyms
from ingest import erasure as erasure_module
from ingest.erasure import CANCEL_REASON, PlayerNotFound, player_erase
from ingest.services import event_ingest
from ingest.tasks import settle_player_erasure
from reporting.models import DailyPlayers
from reporting.rollup import stats_rollup_refresh
from reporting.sketch import Sketch, player_hash
from tests.support.erasure import (
    BYSTANDER_ID,
    CLICK_ID,
    PLAYER_ID,
    erased_player,
    erased_values_in,
    ingest,
    statuses,
    stored_texts,
    world_build,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(httpserver, settings):
    return world_build(httpserver, settings)


def test_the_world_holds_the_values_before_erasure(world):
    # Guards the scan below: it must find the values where they are.
    found = {(model.__name__, field) for model, field, text in stored_texts() if erased_values_in(text)}

    assert {("Player", "player_id"), ("Player", "click_id"), ("Player", "tracking_params"), ("Event", "params"),
            ("Delivery", "request_url"), ("Delivery", "request_body"), ("DeliveryAttempt", "request_headers"),
            ("DeliveryAttempt", "response_excerpt")} <= found


def test_no_erased_value_remains_in_any_table(world):
    player_erase(player_id=PLAYER_ID)

    leaks = [(model.__name__, field) for model, field, text in stored_texts() if erased_values_in(text)]
    assert leaks == []


def test_other_players_keep_their_values(world):
    player_erase(player_id=PLAYER_ID)

    bystander = Player.objects.get(player_id=BYSTANDER_ID)
    assert bystander.click_id == "bystander-click"
    assert Delivery.objects.filter(event__player=bystander).exclude(request_url="").exists()


def test_the_player_and_its_events_carry_a_keyed_pseudonym_and_keep_what_statistics_count(world):
    before = list(Event.objects.filter(player_id=PLAYER_ID).order_by("pk").values(
        "pk", "event_id", "type_id", "partner_id", "amount", "currency", "occurred_at", "is_first_deposit"))

    erasure = player_erase(player_id=PLAYER_ID)

    player = erased_player()
    assert erasure.pseudonym == player.player_id == player_pseudonyms(PLAYER_ID)[0]
    assert (player.partner, player.click_id, player.tracking_params) == (world.acme, "", {})
    assert player.registered_at is not None and player.first_deposit_at is not None
    events = Event.objects.filter(player=player).order_by("pk")
    assert list(events.values(*before[0])) == before
    assert {(event.click_id, str(event.params)) for event in events} == {("", "{}")}
    assert not Player.objects.filter(player_id=PLAYER_ID).exists()


def test_the_pseudonym_depends_on_the_secret_key(settings):
    first = player_pseudonyms(PLAYER_ID)[0]
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40

    assert player_pseudonyms(PLAYER_ID)[0] != first


def test_open_deliveries_are_cancelled_with_the_reason_and_sent_ones_stay_delivered(world):
    assert statuses(PLAYER_ID) == ["delivered", "delivered", "pending", "pending", "retrying", "retrying"]

    erasure = player_erase(player_id=PLAYER_ID)

    pseudonym = erasure.pseudonym
    assert statuses(pseudonym) == ["cancelled"] * 4 + ["delivered"] * 2
    cancelled = Delivery.objects.filter(event__player_id=pseudonym, status=Delivery.Status.CANCELLED)
    assert set(cancelled.values_list("last_error", "next_attempt_at", "claimed_by")) == {(CANCEL_REASON, None, "")}
    assert erasure.deliveries_cancelled == 4


def test_attempts_keep_their_outcome_but_not_what_was_sent_or_answered(world):
    erasure = player_erase(player_id=PLAYER_ID)

    attempts = DeliveryAttempt.objects.filter(delivery__event__player_id=erasure.pseudonym)
    assert sorted(attempts.values_list("status_code", "error_class", "outcome")) == [
        (200, "", "success"), (200, "", "success"), (503, "http_5xx", "retry"), (503, "http_5xx", "retry"),
    ]
    assert set(attempts.values_list("request_url", "request_body", "response_excerpt", "error")) == {("", "", "", "")}
    assert [attempt.request_headers for attempt in attempts] == [{}] * 4


def test_the_audit_record_counts_the_rows_and_names_who_asked(world, admin_client_api):
    erasure = player_erase(player_id=PLAYER_ID, api_key=admin_client_api.api_key)

    stored = PlayerErasure.objects.get()
    assert stored == erasure
    assert (stored.players, stored.events, stored.deliveries, stored.deliveries_cancelled, stored.attempts) == (
        1, 3, 4, 4, 4)
    assert stored.statistics_days == 1 and not stored.already_erased
    assert stored.api_key == admin_client_api.api_key and stored.user is None
    assert stored.requested_by.startswith("API key test-admin")


def test_statistics_give_the_same_totals_after_a_refresh(world, platform_client):
    stats_rollup_refresh()
    before = platform_client.get("/api/v1/stats/", {"from": "2026-11-20", "to": "2026-11-20"}).json()

    player_erase(player_id=PLAYER_ID)
    stats_rollup_refresh()

    after = platform_client.get("/api/v1/stats/", {"from": "2026-11-20", "to": "2026-11-20"}).json()
    # The player's four open deliveries are cancelled; everything else counts as before.
    pending = before["totals"]["deliveries_pending"]
    assert after["totals"] == {**before["totals"], "deliveries_pending": pending - 4}
    assert _without_pending(after["results"]) == _without_pending(before["results"])


def _without_pending(rows: list[dict]) -> list[dict]:
    return [{name: value for name, value in row.items() if name != "deliveries_pending"} for row in rows]


def test_the_refresh_drops_the_hash_of_the_erased_id_from_distinct_player_counts(world):
    stats_rollup_refresh()
    player_erase(player_id=PLAYER_ID)

    stats_rollup_refresh()

    sketches = [Sketch.loads(sketch) for sketch in DailyPlayers.objects.values_list("sketch", flat=True)]
    assert sketches and all(player_hash(PLAYER_ID) not in sketch.hashes for sketch in sketches)


def test_a_later_event_for_the_same_id_starts_a_new_player(world):
    player_erase(player_id=PLAYER_ID)

    deposit = ingest(event_id="dep-3", type="deposit", amount="5.00", currency="EUR")
    registration = ingest(event_id="reg-3", type="registration", partner="lens", click_id="fresh-click")

    player = Player.objects.get(player_id=PLAYER_ID)
    assert deposit.is_first_deposit and deposit.partner is None and deposit.click_id == ""
    assert (player.partner, player.click_id) == (world.lens, "fresh-click")
    assert registration.partner == world.lens
    assert Event.objects.filter(player=player).count() == 2


def test_erasing_the_new_player_too_keeps_both_apart(world):
    first = player_erase(player_id=PLAYER_ID)
    ingest(event_id="dep-3", type="deposit", amount="5.00", currency="EUR")

    second = player_erase(player_id=PLAYER_ID)

    assert second.pseudonym == player_pseudonyms(PLAYER_ID)[1] != first.pseudonym
    assert not second.already_erased and second.events == 1
    assert Event.objects.filter(is_first_deposit=True, player_id__in=[first.pseudonym, second.pseudonym]).count() == 2


def test_a_second_call_changes_nothing_and_answers_with_the_same_pseudonym(world):
    first = player_erase(player_id=PLAYER_ID)
    by_pseudonym = player_erase(player_id=first.pseudonym)

    again = player_erase(player_id=PLAYER_ID)

    for erasure in (again, by_pseudonym):
        assert erasure.already_erased and erasure.pseudonym == first.pseudonym
        assert (erasure.players, erasure.events, erasure.deliveries, erasure.deliveries_cancelled,
                erasure.attempts, erasure.statistics_days) == (0, 0, 0, 0, 0, 0)
    assert PlayerErasure.objects.count() == 3
    assert Player.objects.filter(player_id__startswith="erased-").count() == 1


def test_an_unknown_player_is_not_found_and_nothing_is_recorded(db):
    with pytest.raises(PlayerNotFound):
        player_erase(player_id="nobody")

    assert not PlayerErasure.objects.exists()


def test_a_replay_of_an_erased_event_is_a_duplicate_and_a_changed_one_a_conflict(world):
    player_erase(player_id=PLAYER_ID)
    original = {"event_id": "reg-1", "type": "registration", "player_id": PLAYER_ID, "partner": "acme",
                "occurred_at": "2026-11-20T12:00:00Z", "click_id": CLICK_ID,
                "params": {"email": "erin.erasable@example.org", "phone": "+4915550199423", "sub1": "campaign-7"}}

    replay = event_ingest(data=original)
    changed = event_ingest(data={**original, "click_id": "other"})

    assert replay.status == "duplicate" and replay.event.player_id.startswith("erased-")
    assert changed.status == "conflict"
    assert not Player.objects.filter(player_id=PLAYER_ID).exists()


def test_the_erased_content_digest_is_not_the_plain_one(world):
    plain = set(Event.objects.filter(player_id=PLAYER_ID).values_list("content_hash", flat=True))

    erasure = player_erase(player_id=PLAYER_ID)

    keyed = set(Event.objects.filter(player_id=erasure.pseudonym).values_list("content_hash", flat=True))
    assert len(keyed) == len(plain) and not keyed & plain


def test_a_response_written_after_the_erasure_is_cleared_by_the_settling_pass(world, monkeypatch):
    published = []
    monkeypatch.setattr("ingest.erasure.enqueue_on_commit", published.append)
    delivery = Delivery.objects.filter(event__player_id=PLAYER_ID, status=Delivery.Status.PENDING).first()
    DeliveryAttempt.objects.create(delivery=delivery, number=1, request_method="GET", request_url="http://x/")

    erasure = player_erase(player_id=PLAYER_ID)
    # The sender that held the attempt writes its answer once the request returns.
    DeliveryAttempt.objects.filter(delivery=delivery).update(outcome="success", response_excerpt=f"ok {PLAYER_ID}")
    (settle,) = published
    settle.apply()

    assert settle.type.name == settle_player_erasure.name and settle.args == (erasure.pk,)
    assert settle.options["countdown"] > 0
    assert DeliveryAttempt.objects.get(delivery=delivery).response_excerpt == ""
    erasure.refresh_from_db()
    assert erasure.attempts == 4 + 1 + 1  # the in-flight one counted when erased and again when settled


def test_nothing_is_scheduled_when_no_attempt_is_in_flight(world, monkeypatch):
    published = []
    monkeypatch.setattr("ingest.erasure.enqueue_on_commit", published.append)

    player_erase(player_id=PLAYER_ID)

    assert published == []


def test_a_failed_erasure_leaves_everything_as_it_was(world, monkeypatch):
    def broken(**kwargs):
        raise IntegrityError("disk full")

    monkeypatch.setattr("ingest.erasure.stats_days_mark", broken)

    with pytest.raises(IntegrityError):
        player_erase(player_id=PLAYER_ID)

    assert Player.objects.get(player_id=PLAYER_ID).click_id == CLICK_ID
    assert statuses(PLAYER_ID) == ["delivered", "delivered", "pending", "pending", "retrying", "retrying"]
    assert not PlayerErasure.objects.exists()


def test_deliveries_of_an_erased_player_are_not_resent(world):
    erasure = player_erase(player_id=PLAYER_ID)
    deliveries = Delivery.objects.filter(event__player_id=erasure.pseudonym)
    bystanders = Delivery.objects.filter(event__player_id=BYSTANDER_ID)

    resent = deliveries_resend(queryset=Delivery.objects.all())

    assert resent == bystanders.count()
    assert statuses(erasure.pseudonym) == ["cancelled"] * 4 + ["delivered"] * 2
    with pytest.raises(DeliveryStateError, match="erased"):
        delivery_resend(delivery=deliveries.first())


def test_an_erasure_aborted_by_a_deadlock_runs_again(world, monkeypatch):
    class Deadlock(Exception):
        pgcode = "40P01"

    real_scrub, calls = erasure_module._scrub, []

    def deadlocked_once(erasure, **kwargs):
        calls.append(erasure)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from Deadlock()
        return real_scrub(erasure, **kwargs)

    monkeypatch.setattr(erasure_module, "_scrub", deadlocked_once)

    erasure = player_erase(player_id=PLAYER_ID)

    assert len(calls) == 2 and erasure.events == 3
    assert PlayerErasure.objects.get() == erasure


def test_the_admin_history_of_the_player_follows_it_to_its_pseudonym(world, admin_user):
    player_type = ContentType.objects.get_for_model(Player)
    LogEntry.objects.create(user=admin_user, content_type=player_type, object_id=PLAYER_ID, object_repr=PLAYER_ID,
                            action_flag=CHANGE, change_message='[{"changed": {"fields": ["Click id"]}}]')

    erasure = player_erase(player_id=PLAYER_ID)

    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.object_repr) == (erasure.pseudonym, erasure.pseudonym)
    assert [(model.__name__, field) for model, field, text in stored_texts() if erased_values_in(text)] == []
