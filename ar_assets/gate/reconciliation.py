"""Gate: the open AR that landed equals what NetSuite itself reports, per currency.

The control totals are queried at the source in the same landing run: per
currency, the amount unpaid of open invoices, the unapplied amount of credit
memos and payments, and the number of invoices paid within the history window
(ar_assets/land/control.py). The check compares both with
what landed exactly, so a row lost in paging, a page read twice or an amount
altered on the way fails it. It is blocking: when it fails, nothing downstream
of the raw tables runs, and no message is sent.

Rows quarantined on landing are not in the landed sums; when their amounts
account for the whole difference to the cent, the check passes and lists them,
so one unparseable row does not stop every client's reminder. A quarantined
invoice's open amount is its amount unpaid as received or, when that is what
could not be read, its total less the amount paid.
"""

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from ar_assets.land.control import (
    MEASURES,
    control_totals,
    currency_label,
    currency_order,
    differences,
    landed_totals,
    quarantined_totals,
    unexplained_differences,
)
from ar_assets.resources import Warehouse

RECONCILED_ASSET = AssetKey(["raw", "netsuite_transactions"])


def reconcile_open_ar(con: duckdb.DuckDBPyConnection, as_of: str | None) -> AssetCheckResult:
    """Compares the landed totals with the control totals; returns the check's result."""
    landed_as_of = con.execute(
        "select max(as_of) from raw.netsuite_control_totals"
    ).fetchone()[0]
    lines = ["| total | currency | landed | source control | difference |",
             "|---|---|---:|---:|---:|"]
    explained = []
    currencies = set()
    for measure in MEASURES:
        landed, control = landed_totals(con, measure), control_totals(con, measure)
        currencies |= set(landed) | set(control)
        for difference in differences(measure, landed, control):
            quarantined = quarantined_totals(con, measure).get(difference.currency)
            if quarantined is not None:
                readable, unreadable = quarantined
                what = f"{measure.name} {currency_label(difference.currency)} {readable}"
                if unreadable:
                    what += f" and {unreadable} row(s) whose amount could not be read"
                explained.append(what)
        for code in sorted(set(landed) | set(control), key=currency_order):
            got, want = landed.get(code, 0), control.get(code, 0)
            lines.append(f"| {measure.name} | {currency_label(code)} | {got} | {want} | "
                         f"{got - want} |")
    unexplained = unexplained_differences(con)
    metadata = {
        "totals": MetadataValue.md("\n".join(lines)),
        "currencies": MetadataValue.int(len(currencies)),
        "landed_as_of": MetadataValue.text(str(landed_as_of)),
    }
    if explained and not unexplained:
        metadata["explained_by_quarantine"] = MetadataValue.text(", ".join(explained))

    stale = as_of is not None and str(landed_as_of) != as_of
    if stale:
        description = f"raw holds the snapshot of {landed_as_of}, not of {as_of}"
    elif unexplained:
        description = "landed AR differs from the source: " + "; ".join(map(str, unexplained))
    else:
        description = (f"open invoices, unapplied credits and paid invoices reconcile in "
                       f"{len(currencies)} currencies")
    return AssetCheckResult(
        passed=not stale and not unexplained,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


@asset_check(
    asset=RECONCILED_ASSET,
    name="open_ar_reconciles_with_source",
    blocking=True,
    description="Landed open invoice amounts, unapplied credits and paid invoice counts "
    "per currency equal NetSuite's control totals exactly; blocks every send when they "
    "do not.",
)
def open_ar_reconciles_with_source(
    context: AssetCheckExecutionContext, warehouse: Warehouse
) -> AssetCheckResult:
    as_of = context.partition_key if context.has_partition_key else None
    with warehouse.connect() as con:
        result = reconcile_open_ar(con, as_of)
    context.log.info("reconciliation: %s", result.description)
    return result
