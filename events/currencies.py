"""ISO 4217 currency codes and their minor units (digits after the decimal point).

The list is the active ISO 4217 table; precious metals, testing and
"no currency" codes (XAU, XTS, XXX …) are left out because an amount in
them is never a player's deposit.
"""

from decimal import Decimal

_TWO_DECIMALS = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF
CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ
GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD
MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON
RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS
UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG
"""
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMALS = "CLF UYW"

MINOR_UNITS: dict[str, int] = {
    **{code: 2 for code in _TWO_DECIMALS.split()},
    **{code: 0 for code in _ZERO_DECIMALS.split()},
    **{code: 3 for code in _THREE_DECIMALS.split()},
    **{code: 4 for code in _FOUR_DECIMALS.split()},
}


def minor_units(code: str) -> int | None:
    """Digits after the decimal point for an ISO 4217 code, None when the code is not one."""
    return MINOR_UNITS.get(code)


def smallest_unit(code: str) -> Decimal | None:
    """The currency's smallest step (``0.01`` for EUR, ``1`` for JPY), None when the code is not ISO 4217."""
    digits = minor_units(code)
    return None if digits is None else Decimal(1).scaleb(-digits)


def money_text(amount: Decimal | None, currency: str) -> str:
    """``1,234.50 EUR``: thousands separators, the currency's own decimals and its code; a dash for none.

    An amount finer than the currency's smallest unit (a percent payout of
    ``0.125``) keeps its extra digits rather than being rounded for show.
    """
    if amount is None:
        return "—"
    amount = Decimal(amount)
    digits = minor_units(currency)
    shown = amount.quantize(Decimal(1).scaleb(-(2 if digits is None else digits)))
    if shown != amount:
        shown = amount.normalize()
    return f"{shown:,f} {currency}".strip()
