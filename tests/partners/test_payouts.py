from decimal import Decimal

import pytest

from partners.models import PayoutRule
from partners.payouts import money, payout_for


def _rule(kind, value):
    return PayoutRule(kind=kind, value=Decimal(value), currency="EUR")


def test_fixed_payout_is_the_rule_value_with_cents():
    assert payout_for(_rule("fixed", "10.0000"), None) == Decimal("10.00")


def test_percent_payout_rounds_half_up_to_cents():
    assert payout_for(_rule("percent", "25"), Decimal("10.10")) == Decimal("2.53")  # 2.525 → 2.53
    assert payout_for(_rule("percent", "30"), Decimal("99.99")) == Decimal("30.00")  # 29.997 → 30.00


def test_percent_payout_without_amount_and_no_rule_are_missing():
    assert payout_for(_rule("percent", "25"), None) is None
    assert payout_for(None, Decimal("10")) is None


@pytest.mark.parametrize("value, shown", [("25.0000", "25.00"), ("0.1250", "0.125"), ("7", "7.00")])
def test_money_keeps_cents_and_drops_only_trailing_zeros(value, shown):
    assert str(money(Decimal(value))) == shown
