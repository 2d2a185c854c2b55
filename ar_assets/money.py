"""Exact money: ISO 4217 minor units and quantizing, never binary floating point."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision


@cache
def minor_units(currency: str) -> int:
    """Decimal places of a currency per ISO 4217 (JPY 0, EUR 2, KWD 3)."""
    return get_currency_precision(currency)


def to_minor(amount: Decimal, currency: str) -> Decimal:
    """The amount at the currency's own precision (0.10 EUR, 121233 JPY, 1.250 KWD)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)
