"""raw/netsuite_*: one snapshot of the NetSuite source per business date."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ar_assets.land.control import currency_label, currency_order
from ar_assets.land.landing import RAW_TABLES, LandStats, land_snapshot
from ar_assets.land.resources import NetSuiteResource
from ar_assets.land.store import QUARANTINE_TABLE
from ar_assets.partitions import daily_partitions, one_day_per_run, partition_date
from ar_assets.resources import Warehouse

DESCRIPTIONS = {
    "netsuite_transactions": "One row per NetSuite transaction landed as of the business "
    "date: open invoices, credit memos and payments with an unapplied amount, and "
    "invoices paid in the last 400 days. Amounts are in the transaction's currency.",
    "netsuite_transaction_lines": "One row per item line of a landed invoice (main lines "
    "excluded); income lines carry NetSuite's negative GL sign.",
    "netsuite_customers": "One row per NetSuite customer, with the AR exclusion flags.",
    "netsuite_contacts": "One row per NetSuite contact, with its role's display name.",
    "netsuite_employees": "One row per NetSuite employee (account managers), with the "
    "Google Chat space.",
    "netsuite_currencies": "One row per NetSuite currency: id, ISO code and name.",
    "netsuite_control_totals": "One row per currency: the open invoice amount, the "
    "unapplied credit and the number of recently paid invoices NetSuite reports as of the "
    "run, for reconciling what landed.",
    QUARANTINE_TABLE: "One row per source row that failed to parse on landing (a value "
    "that is not a number, an ISO date or a T/F flag, or a required value missing), with "
    "the reason and the row as received. These rows are not in the other raw tables.",
}
TABLES = [table.name for table in RAW_TABLES] + [QUARANTINE_TABLE]


def raw_key(table: str) -> AssetKey:
    return AssetKey(["raw", table])


@multi_asset(
    name="netsuite_raw",
    specs=[
        AssetSpec(
            raw_key(table),
            description=DESCRIPTIONS[table],
            group_name="land",
            kinds={"netsuite", "duckdb"},
        )
        for table in TABLES
    ],
    partitions_def=daily_partitions,
    backfill_policy=one_day_per_run,
)
def netsuite_raw(
    context: AssetExecutionContext, warehouse: Warehouse, netsuite: NetSuiteResource
):
    """Lands a complete snapshot of NetSuite as of the partition date into
    raw.netsuite_*: in full weekly and for past dates, else the changes since the
    last load merged into a kept copy (rows failing to parse go to
    raw.netsuite_quarantine with a reason)."""
    as_of = partition_date(context.partition_key)
    if netsuite.sandbox:
        netsuite.set_sandbox_clock(as_of)

    client = netsuite.client()
    with warehouse.connect() as con:
        stats = land_snapshot(client, con, as_of, netsuite.load_settings())

    context.log.info(
        "landed %s invoices and credits, %s rows in all (%s load: %s) in %d requests; "
        "%d quarantined",
        f"{stats.row_counts['netsuite_transactions']:,}",
        f"{sum(stats.row_counts.values()):,}",
        stats.plan.mode,
        stats.plan.reason,
        stats.requests,
        sum(stats.quarantined.values()),
    )
    for table in TABLES:
        yield MaterializeResult(asset_key=raw_key(table), metadata=_metadata(table, stats))


def _metadata(table: str, stats: LandStats) -> dict:
    metadata = {
        "as_of": MetadataValue.text(stats.as_of.isoformat()),
        "load_mode": MetadataValue.text(stats.plan.mode),
        "load_reason": MetadataValue.text(stats.plan.reason),
    }
    if table == QUARANTINE_TABLE:
        metadata["dagster/row_count"] = MetadataValue.int(sum(stats.quarantined.values()))
        return metadata
    metadata["dagster/row_count"] = MetadataValue.int(stats.row_counts[table])
    metadata["quarantined_rows"] = MetadataValue.int(stats.quarantined[table])
    metadata["rows_pulled"] = MetadataValue.int(stats.pulled[table])
    if table == "netsuite_transactions":
        metadata["requests"] = MetadataValue.int(stats.requests)
        metadata["rereads"] = MetadataValue.int(stats.rereads)
        metadata["open_invoice_amount"] = MetadataValue.md(_totals_table(stats))
        for code, amount in stats.open_totals.items():
            metadata[f"open_{code or 'no_currency'}"] = MetadataValue.text(str(amount))
    if table == "netsuite_control_totals":
        for code, amount in stats.control_totals.items():
            metadata[f"control_{code or 'no_currency'}"] = MetadataValue.text(str(amount))
    return metadata


def _totals_table(stats: LandStats) -> str:
    """Returns a markdown table of landed open amounts beside the source's control totals."""
    lines = ["| currency | landed open | source control |", "|---|---:|---:|"]
    for code in sorted(set(stats.open_totals) | set(stats.control_totals), key=currency_order):
        landed = stats.open_totals.get(code, "-")
        control = stats.control_totals.get(code, "-")
        lines.append(f"| {currency_label(code)} | {landed} | {control} |")
    return "\n".join(lines)
