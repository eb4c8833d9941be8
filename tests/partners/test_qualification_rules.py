"""Which players a qualification rule admits: the conditions, read from a player's events (no database)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from events.models import Player
from partners.models import QualificationRule
from partners.qualification import PlayerEvent, rule_met_by

REGISTERED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _rule(**conditions) -> QualificationRule:
    return QualificationRule(**{"name": "CPA", "currency": "EUR", "window_days": 30, **conditions})


def _player(**fields) -> Player:
    return Player(**{
        "player_id": "p-1", "registered_at": REGISTERED, "first_deposit_at": REGISTERED + timedelta(days=1), **fields,
    })


def _event(event_id, kind, day, amount=None, currency="EUR", first=False, **params) -> PlayerEvent:
    return PlayerEvent(
        event_id=event_id, type=kind, occurred_at=REGISTERED + timedelta(days=day),
        amount=Decimal(amount) if amount else None, currency=currency if amount else "",
        is_first_deposit=first, params=params,
    )


HISTORY = [
    _event("reg", "registration", 0, country="de"),
    _event("dep-1", "deposit", 1, "20.00", first=True),
    _event("dep-2", "deposit", 5, "90.00"),
    _event("play-1", "game_activity", 6, wager="300"),
    _event("play-2", "game_activity", 7, wager=250.5),
]


def test_the_industry_cpa_rule_is_met_by_the_events_that_make_it_up():
    rule = _rule(min_first_deposit=Decimal("20"), min_deposit_sum=Decimal("100"), min_wager_sum=Decimal("500"))

    assert rule_met_by(rule, player=_player(), history=HISTORY) == ["reg", "dep-1", "dep-2", "play-1", "play-2"]


@pytest.mark.parametrize("conditions", [
    {"min_first_deposit": Decimal("20.01")},
    {"min_deposit_count": 3},
    {"min_deposit_sum": Decimal("110.01")},
    {"min_wager_sum": Decimal("550.51")},
    {"allowed_countries": ["AT", "CH"]},
])
def test_a_player_short_of_any_one_condition_does_not_qualify(conditions):
    assert rule_met_by(_rule(**conditions), player=_player(), history=HISTORY) is None


def test_events_after_the_window_do_not_count():
    late = [*HISTORY[:2], _event("dep-late", "deposit", 31, "500.00")]

    assert rule_met_by(_rule(min_deposit_sum=Decimal("100")), player=_player(), history=late) is None


def test_the_window_may_start_at_the_first_deposit():
    rule = _rule(min_deposit_sum=Decimal("100"), window_days=4, window_start="first_deposit")
    history = [*HISTORY[:2], _event("dep-3", "deposit", 5, "80.00")]

    assert rule_met_by(rule, player=_player(), history=history) == ["dep-1", "dep-3"]


def test_deposits_in_another_currency_do_not_count():
    history = [_event("dep-1", "deposit", 1, "500.00", currency="USD", first=True)]

    assert rule_met_by(_rule(min_deposit_sum=Decimal("100")), player=_player(), history=history) is None


def test_a_player_with_no_start_of_window_does_not_qualify():
    assert rule_met_by(_rule(min_deposit_count=1), player=_player(registered_at=None), history=HISTORY) is None


def test_wagers_that_are_not_numbers_are_left_out():
    history = [_event("play-1", "game_activity", 1, wager="lots"), _event("play-2", "game_activity", 2, wager=True)]

    assert rule_met_by(_rule(min_wager_sum=Decimal("0.01")), player=_player(), history=history) is None


def test_the_players_tracking_country_counts_before_the_events():
    rule = _rule(allowed_countries=["AT"])

    assert rule_met_by(rule, player=_player(tracking_params={"country": "AT"}), history=HISTORY) == ["reg"]


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "__all__"),
    ({"min_deposit_sum": Decimal("10"), "currency": ""}, "currency"),
    ({"allowed_countries": ["germany"]}, "allowed_countries"),
])
def test_a_rule_that_cannot_work_is_refused_naming_the_field(fields, field):
    rule = QualificationRule(name="x", **{"currency": "EUR", **fields})

    with pytest.raises(ValidationError) as refused:
        rule.clean()

    assert field in refused.value.message_dict
