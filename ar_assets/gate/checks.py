"""Blocking gates on the marts: a failure stops every send of the run.

dbt's own tests (unique keys, not-null due dates and currencies, accepted
values, relationships) are asset checks through dagster-dbt; these add what
SQL tests do not say plainly: money is stored as DECIMAL everywhere, and every
amount stands beside a real ISO 4217 currency.
"""

from babel.numbers import is_currency
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, asset_check

from ar_assets.resources import Warehouse

MONEY_TABLES = ("fct_open_invoices", "fct_client_balances", "fct_invoice_lines")
# Money columns by name: amounts, balances and applied credits, and unit rates.
MONEY_SUFFIXES = ("amount", "balance", "applied", "rate")


@asset_check(
    asset=AssetKey(["marts", "fct_open_invoices"]),
    blocking=True,
    description="Every money column of the marts is DECIMAL, never a binary float.",
)
def money_columns_are_decimal(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connect() as con:
        columns = con.execute(
            """
            select table_name, column_name, data_type
            from information_schema.columns
            where table_schema = 'marts' and table_name in ?
            """,
            [list(MONEY_TABLES)],
        ).fetchall()
    money = [c for c in columns if c[1].endswith(MONEY_SUFFIXES)]
    wrong = [f"{t}.{c} is {d}" for t, c, d in money if not d.upper().startswith("DECIMAL")]
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(wrong) or f"{len(money)} money columns are DECIMAL",
        metadata={"money_columns": len(money), "not_decimal": len(wrong)},
    )


@asset_check(
    asset=AssetKey(["marts", "fct_open_invoices"]),
    blocking=True,
    description="Every open invoice and balance carries a known ISO 4217 currency.",
)
def amounts_carry_a_known_currency(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connect() as con:
        codes = con.execute(
            """
            select currency_code, count(*) from marts.fct_open_invoices group by 1
            union all
            select currency_code, count(*) from marts.fct_client_balances group by 1
            """
        ).fetchall()
    bad = sorted({str(code) for code, _ in codes if code is None or not is_currency(code)})
    return AssetCheckResult(
        passed=not bad,
        severity=AssetCheckSeverity.ERROR,
        description=f"unknown or missing currency: {', '.join(bad)}" if bad
        else "every amount has a known currency",
        metadata={"currencies": len({c for c, _ in codes}), "unknown": len(bad)},
    )
