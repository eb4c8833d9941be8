"""What a partner earns for an event: the ``{payout}`` macro and the statistics' sums.

Money is Decimal all the way. A percent rule takes ``amount × value / 100``
and rounds it half-up to cents (2 decimal places), the way payout reports
are settled; a fixed rule's value is shown with 2 decimals too (more when the
rule itself has sub-cent precision, so nothing is rounded away).
"""

from decimal import ROUND_HALF_UP, Decimal

from .models import PayoutRule

CENT = Decimal("0.01")


def payout_for(rule: PayoutRule | None, amount: Decimal | None) -> Decimal | None:
    """The payout, or None when there is no rule or a percent rule has no amount to apply to."""
    if rule is None:
        return None
    if rule.kind == PayoutRule.Kind.FIXED:
        return money(rule.value)
    if amount is None:
        return None
    return (Decimal(amount) * rule.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal | None) -> Decimal | None:
    """At least 2 decimals, and no trailing zeros beyond them: 10.0000 → 10.00, 0.1250 → 0.125."""
    if value is None:
        return None
    value = Decimal(value)
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return cents if cents == value else value.normalize()


def payout_currency_for(rule: PayoutRule | None, event_currency: str) -> str:
    """The currency a payout is counted in: a fixed rule's own, a percent rule's event's; empty without a rule."""
    if rule is None:
        return ""
    return rule.currency if rule.kind == PayoutRule.Kind.FIXED else event_currency
