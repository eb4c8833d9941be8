from decimal import Decimal

import pytest

from events.currencies import money_text


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1000.5000", "EUR", "1,000.50 EUR"),
        ("1234567.0000", "USD", "1,234,567.00 USD"),
        ("2500.0000", "JPY", "2,500 JPY"),
        ("1.0050", "KWD", "1.005 KWD"),
        ("0.1250", "EUR", "0.125 EUR"),
        ("12.5", "", "12.50"),
    ],
)
def test_money_has_thousands_separators_the_currencys_decimals_and_its_code(amount, currency, shown):
    assert money_text(Decimal(amount), currency) == shown


def test_no_amount_is_a_dash():
    assert money_text(None, "EUR") == "—"
