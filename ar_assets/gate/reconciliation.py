"""Gate: the open AR that landed equals what NetSuite itself reports, per currency.

The control total is queried at the source in the same landing run (a SUM of
open invoice amounts per currency). The check compares it with the landed open
invoices exactly, so a row lost in paging, a page read twice or an amount
altered on the way fails it. It is blocking: when it fails, nothing downstream
of the raw tables runs, and no message is sent.

Rows quarantined on landing are not in the landed sum; when their open amounts
account for the whole difference to the cent, the check passes and lists them,
so one unparseable row does not stop every client's reminder. A quarantined
row's open amount is its amount unpaid as received or, when that is what could
not be read, its total less the amount paid.
"""

from decimal import Decimal

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from ar_assets.land.landing import (
    control_totals,
    currency_label,
    currency_order,
    landed_open_totals,
    open_ar_differences,
    quarantined_open_totals,
    unexplained_differences,
)
from ar_assets.resources import Warehouse

RECONCILED_ASSET = AssetKey(["raw", "netsuite_transactions"])


def reconcile_open_ar(con: duckdb.DuckDBPyConnection, as_of: str | None) -> AssetCheckResult:
    """Compares landed open AR with the control totals; returns the check's result."""
    landed_as_of = con.execute(
        "select max(as_of) from raw.netsuite_control_totals"
    ).fetchone()[0]
    landed, control = landed_open_totals(con), control_totals(con)
    quarantined = quarantined_open_totals(con)
    differences = open_ar_differences(landed, control)
    unexplained = unexplained_differences(con)

    lines = ["| currency | landed open | source control | difference |", "|---|---:|---:|---:|"]
    for code in sorted(set(landed) | set(control), key=currency_order):
        got, want = landed.get(code, Decimal(0)), control.get(code, Decimal(0))
        lines.append(f"| {currency_label(code)} | {got} | {want} | {got - want} |")
    metadata = {
        "totals": MetadataValue.md("\n".join(lines)),
        "currencies": MetadataValue.int(len(set(landed) | set(control))),
        "landed_as_of": MetadataValue.text(str(landed_as_of)),
    }
    if differences and not unexplained:
        metadata["explained_by_quarantine"] = MetadataValue.text(
            ", ".join(f"{currency_label(code)} {quarantined[code]}"
                      for code in sorted(differences, key=currency_order))
        )

    stale = as_of is not None and str(landed_as_of) != as_of
    if stale:
        description = f"raw holds the snapshot of {landed_as_of}, not of {as_of}"
    elif unexplained:
        description = "landed open AR differs from the source: " + "; ".join(
            f"{currency_label(code)} landed {got}, source {want}, difference {got - want}"
            for code, (got, want) in unexplained.items()
        )
    else:
        description = f"open AR reconciles in {len(control)} currencies"
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
    description="Landed open invoice amounts per currency equal NetSuite's control totals "
    "exactly; blocks every send when they do not.",
)
def open_ar_reconciles_with_source(
    context: AssetCheckExecutionContext, warehouse: Warehouse
) -> AssetCheckResult:
    as_of = context.partition_key if context.has_partition_key else None
    with warehouse.connect() as con:
        result = reconcile_open_ar(con, as_of)
    context.log.info("reconciliation: %s", result.description)
    return result
