"""The source's control totals, and the landed amounts that must equal them to the cent.

Three measures per currency. Open invoices: what clients owe (the amount
unpaid of open invoices). Unapplied credits: credit memos and payments not yet
applied, which offset what clients owe. Paid invoices: how many invoices paid
within the history window landed, which the late-payment and offence counts
read (a deleted one shows here). NetSuite sums all three in one control query
(queries.control_totals_query) in the same landing run.

A landed total may fall short of the control total only by rows quarantined on
landing, counted at their amounts as received; any other difference means a
row was lost, read twice or altered on the way. A quarantined row whose amount
cannot be read at all may account for any shortfall in its currency (never for
a surplus); the planner holds that client's reminder, since its balance is not
known. Documents whose currency record is missing count under an empty currency
code on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

RAW_SCHEMA = "raw"
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Measure:
    """One control total: how it is summed from landed rows and from quarantined ones."""

    name: str
    control_column: str  # in raw.netsuite_control_totals
    landed_amount: str  # column of raw.netsuite_transactions
    landed_rows: str  # predicate on raw.netsuite_transactions
    quarantined_amount: str  # expression on a quarantined row's payload
    quarantined_rows: str  # predicate on a quarantined row's payload


def _payload_money(field: str) -> str:
    return f"try_cast(payload ->> '{field}' as DECIMAL(38, 6))"


OPEN_INVOICES = Measure(
    name="open invoices",
    control_column="open_amount",
    landed_amount="foreignamountunpaid",
    landed_rows="type = 'CustInvc' and status_code = 'CustInvc:A'",
    # An amount unpaid that could not be read counts as the total less what was paid.
    quarantined_amount=f"""coalesce({_payload_money('foreignamountunpaid')},
        {_payload_money('foreigntotal')}
        - coalesce({_payload_money('foreignamountpaid')}, 0))""",
    quarantined_rows="payload ->> 'type' = 'CustInvc' "
                     "and payload ->> 'status_code' = 'CustInvc:A'",
)
UNAPPLIED_CREDITS = Measure(
    name="unapplied credits",
    control_column="unapplied_amount",
    landed_amount="foreignpaymentamountunused",
    landed_rows="type in ('CustCred', 'CustPymt')",
    quarantined_amount=_payload_money("foreignpaymentamountunused"),
    quarantined_rows="payload ->> 'type' in ('CustCred', 'CustPymt')",
)
PAID_INVOICES = Measure(
    name="paid invoices (count)",
    control_column="paid_count",
    landed_amount="1",
    landed_rows="type = 'CustInvc' and status_code = 'CustInvc:B'",
    quarantined_amount="1",
    quarantined_rows="payload ->> 'type' = 'CustInvc' "
                     "and payload ->> 'status_code' = 'CustInvc:B'",
)
MEASURES = (OPEN_INVOICES, UNAPPLIED_CREDITS, PAID_INVOICES)


@dataclass(frozen=True)
class Difference:
    measure: Measure
    currency: str | None
    landed: Decimal
    control: Decimal

    def __str__(self) -> str:
        return (f"{self.measure.name} {currency_label(self.currency)} landed {self.landed}, "
                f"source {self.control}, difference {self.landed - self.control}")


def currency_order(code: str | None) -> tuple[bool, str]:
    """Sorts currency codes, the empty code (a missing currency record) last."""
    return (code is None, code or "")


def currency_label(code: str | None) -> str:
    return "(no currency)" if code is None else code


def landed_totals(
    con: duckdb.DuckDBPyConnection, measure: Measure = OPEN_INVOICES,
) -> dict[str | None, Decimal]:
    """Returns the measure summed per currency over raw.netsuite_transactions."""
    return dict(con.execute(f"""
        select currency_code, sum({measure.landed_amount})
        from {RAW_SCHEMA}.netsuite_transactions
        where {measure.landed_rows}
        group by currency_code
    """).fetchall())


def control_totals(
    con: duckdb.DuckDBPyConnection, measure: Measure = OPEN_INVOICES,
) -> dict[str | None, Decimal]:
    """Returns the measure per currency as NetSuite reported it (zero totals left out)."""
    return {code: amount for code, amount in con.execute(f"""
        select currency_code, coalesce({measure.control_column}, 0)
        from {RAW_SCHEMA}.netsuite_control_totals
    """).fetchall() if amount}


def quarantined_totals(
    con: duckdb.DuckDBPyConnection, measure: Measure = OPEN_INVOICES,
) -> dict[str | None, tuple[Decimal, int]]:
    """Returns per currency, over transactions quarantined on landing, the measure's sum
    where the amount can be read and how many rows have an amount that cannot."""
    return {code: (total, unreadable) for code, total, unreadable in con.execute(f"""
        with quarantined as (
            select payload ->> 'currency_code' as currency_code,
                   {measure.quarantined_amount} as amount
            from {RAW_SCHEMA}.netsuite_quarantine
            where source_table = 'netsuite_transactions' and {measure.quarantined_rows}
        )
        select currency_code, coalesce(sum(amount), 0), count(*) - count(amount)
        from quarantined
        group by currency_code
    """).fetchall()}


def explains(quarantined: tuple[Decimal, int] | None, difference: Difference) -> bool:
    """Whether rows quarantined in the difference's currency account for it."""
    readable, unreadable = quarantined or (_ZERO, 0)
    shortfall = difference.control - difference.landed - readable
    return shortfall == 0 or (unreadable > 0 and shortfall > 0)


def differences(
    measure: Measure, landed: dict[str | None, Decimal], control: dict[str | None, Decimal],
) -> list[Difference]:
    """Returns one Difference per currency where the landed and control totals differ."""
    return [
        Difference(measure, code, landed.get(code, _ZERO), control.get(code, _ZERO))
        for code in sorted(set(landed) | set(control), key=currency_order)
        if landed.get(code, _ZERO) != control.get(code, _ZERO)
    ]


def unexplained_differences(con: duckdb.DuckDBPyConnection) -> list[Difference]:
    """Returns the differences that rows quarantined on landing do not account for."""
    found = []
    for measure in MEASURES:
        quarantined = quarantined_totals(con, measure)
        found.extend(
            d for d in differences(measure, landed_totals(con, measure),
                                   control_totals(con, measure))
            if not explains(quarantined.get(d.currency), d)
        )
    return found
