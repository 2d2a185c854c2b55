"""Money and dates as clients read them: ISO 4217 minor units, half-up, never float."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ar_assets.render.formatting import (
    babel_locale,
    format_date,
    format_money,
    format_quantity,
    format_unit_price,
)

NBSP = "\u00a0"


@pytest.mark.parametrize("locale", ["en", "ja", "ja_JP"])
def test_yen_is_written_without_minor_unit(locale):
    assert format_money(Decimal("121233"), "JPY", locale) == "¥121,233"


def test_yen_rounds_half_up_to_whole_yen():
    assert format_money(Decimal("2.5"), "JPY", "ja") == "¥3"
    assert format_money(Decimal("121233.000000"), "JPY", "en") == "¥121,233"


def test_kuwaiti_dinar_keeps_three_decimals():
    assert format_money(Decimal("1500.125"), "KWD", "en") == f"KWD{NBSP}1,500.125"
    assert format_money(Decimal("1500.1"), "KWD", "en") == f"KWD{NBSP}1,500.100"
    assert format_money(Decimal("0.0005"), "KWD", "en") == f"KWD{NBSP}0.001"


def test_cents_round_half_up_where_binary_float_would_round_down():
    # float(1.005) is 1.00499999..., so a float path would print $1.00.
    assert format_money(Decimal("1.005"), "USD", "en") == "$1.01"


def test_float_amounts_are_refused():
    with pytest.raises(TypeError):
        format_money(39981.70, "EUR", "en")  # type: ignore[arg-type]


def test_locale_decides_separators_and_symbol_position():
    assert format_money(Decimal("39981.70"), "EUR", "de") == f"39.981,70{NBSP}€"
    assert format_money(Decimal("12000"), "USD", "en") == "$12,000.00"


@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False))
def test_every_euro_amount_reads_back_exactly(amount):
    text = format_money(amount, "EUR", "en")
    assert Decimal(text.removeprefix("€").replace(",", "")) == amount


def test_rate_keeps_extra_digits_but_quantity_drops_trailing_zeros():
    assert format_unit_price(Decimal("0.125000"), "USD", "en") == "$0.125"
    assert format_unit_price(Decimal("88000.000000"), "JPY", "ja") == "¥88,000"
    assert format_quantity(Decimal("2.500000"), "en") == "2.5"
    assert format_quantity(Decimal("1000.000000"), "en") == "1,000"


def test_long_dates_follow_the_locale():
    d = date(2026, 6, 16)
    assert format_date(d, "en") == "June 16, 2026"
    assert format_date(d, "ja") == "2026年6月16日"
    assert format_date(d, "de") == "16. Juni 2026"


def test_french_writes_the_first_of_the_month_as_an_ordinal():
    assert format_date(date(2026, 4, 1), "fr_FR") == "1er avril 2026"
    assert format_date(date(2026, 4, 2), "fr_FR") == "2 avril 2026"
    assert format_date(date(2026, 4, 1), "en") == "April 1, 2026"


def test_netsuite_language_codes_map_to_locales():
    assert babel_locale("ja_JP") == "ja_JP"
    assert babel_locale("en-US") == "en_US"
    assert babel_locale("Klingon") == "en"
    assert babel_locale(None) == "en"
