"""Money, numbers and dates as the client's locale writes them (Babel/CLDR)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_decimal

from ar_assets.money import minor_units, to_minor

# CLDR's Japanese locale writes the yen as the full-width U+FFE5. Amounts are
# normalized to U+00A5 so one amount reads the same in every locale, in the
# PDF text layer, in HubSpot and in search.
_SYMBOL_NORMALIZATION = str.maketrans({"\uffe5": "\u00a5"})

# CLDR asks for a space between a letter-ending symbol and a digit
# ("KWD 1.235"); Babel leaves the two glued together.
_LETTER_THEN_DIGIT = re.compile(r"(?<=[A-Za-z])(?=[\d-])")
_DIGIT_THEN_LETTER = re.compile(r"(?<=\d)(?=[A-Za-z])")


def babel_locale(language: str | None, default: str = "en") -> str:
    """A Babel locale id for a NetSuite-style language ('ja_JP', 'en-US', 'de')."""
    if not language:
        return default
    try:
        return str(Locale.parse(language.strip().replace("-", "_")))
    except (ValueError, TypeError, UnknownLocaleError):
        return default


def currency_digits(currency: str) -> int:
    """ISO 4217 minor units of `currency` (JPY 0, EUR 2, KWD 3)."""
    return minor_units(currency)


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit; floats refused."""
    if isinstance(amount, float) or not isinstance(amount, Decimal | int):
        raise TypeError(f"money must be Decimal, got {type(amount).__name__}")
    return to_minor(Decimal(amount), currency)


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """'¥121,233', '$12,000.00', '39.981,70 €', 'KWD 1.235' for the locale."""
    text = format_currency(
        quantize_money(amount, currency),
        currency,
        locale=locale,
        currency_digits=True,
        decimal_quantization=True,
    )
    return _space_letter_symbols(text.translate(_SYMBOL_NORMALIZATION))


def format_unit_price(amount: Decimal, currency: str, locale: str) -> str:
    """A rate: at least the currency's minor unit, more only when it has them."""
    text = format_currency(
        _strip_zeros(amount), currency, locale=locale, decimal_quantization=False
    )
    return _space_letter_symbols(text.translate(_SYMBOL_NORMALIZATION))


def format_quantity(quantity: Decimal, locale: str) -> str:
    """A quantity without trailing zeros: '1', '2.5', '1,000'."""
    return format_decimal(_strip_zeros(quantity), locale=locale, decimal_quantization=False)


def format_date(d: date, locale: str) -> str:
    """The long date: 'June 16, 2026', '2026年6月16日', '16. Juni 2026', '1er avril 2026'."""
    if d.day == 1 and Locale.parse(locale).language == "fr":
        # French writes the first of a month as an ordinal; CLDR's long pattern has none.
        return babel_format_date(d, format="d'er' MMMM y", locale=locale)
    return babel_format_date(d, format="long", locale=locale)


def currency_name(currency: str, locale: str) -> str:
    """The currency's display name in the locale ('US Dollar', '米ドル')."""
    return Locale.parse(locale).currencies.get(currency, currency)


def _strip_zeros(value: Decimal) -> Decimal:
    if isinstance(value, float):
        raise TypeError("numbers must be Decimal, got float")
    value = Decimal(value)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _space_letter_symbols(text: str) -> str:
    text = _LETTER_THEN_DIGIT.sub("\u00a0", text)
    return _DIGIT_THEN_LETTER.sub("\u00a0", text)
