"""The day's notification plan as tables: plan.messages and ops.ledger rows."""


from collections import Counter, defaultdict
from datetime import date

import duckdb
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from ar_assets.ledger import ensure_ledger, record_plan
from ar_assets.partitions import daily_partitions, one_day_per_run, partition_date
from ar_assets.plan.codec import to_json
from ar_assets.plan.planning import DayFacts, PlannedMessage, plan_day
from ar_assets.policy import load_policy
from ar_assets.resources import Warehouse

MARTS = (
    "fct_client_status",
    "fct_client_balances",
    "fct_open_invoices",
    "fct_client_recipients",
    "fct_invoice_lines",
    "fct_predue_invoices",
)

PLAN_DDL = """
create schema if not exists plan;
create table if not exists plan.messages (
    as_of date not null,
    message_key varchar not null,
    channel varchar not null,
    kind varchar not null,
    client_id bigint,
    status varchar not null,
    reason varchar,
    payload json,
    primary key (as_of, message_key)
);
"""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def read_day_facts(con: duckdb.DuckDBPyConnection, as_of: date) -> DayFacts:
    """Reads the marts and the delivered history the planner needs for `as_of`."""
    marts = {name: _rows(con, f"select * from marts.{name}") for name in MARTS}
    history = _rows(
        con,
        """
        select client_id, channel, kind, tier, as_of, message_key
        from ops.ledger
        where status = 'delivered' and as_of < ? and client_id is not null
        order by as_of
        """,
        [as_of],
    )
    delivered: dict[tuple[int, str], list[date]] = defaultdict(list)
    holds: dict[int, str] = {}
    for row in history:
        delivered[(row["client_id"], row["kind"])].append(row["as_of"])
        if row["kind"] == "client_overdue" and (row["tier"] or 0) >= 2:
            delivered[(row["client_id"], "client_overdue_tier2")].append(row["as_of"])
        # The hold itself is the campaign row; chat rows of the same kind only tell people.
        if row["channel"] != "campaign":
            continue
        if row["kind"] == "hold_placed":
            holds[row["client_id"]] = row["message_key"]
        elif row["kind"] == "hold_lifted":
            holds.pop(row["client_id"], None)
    [(later_run,)] = con.execute(
        "select max(as_of) from ops.ledger where as_of > ?", [as_of]
    ).fetchall()
    unread_credits = dict(con.execute("""
        select try_cast(payload ->> 'entity' as bigint) as client_id,
               min(coalesce(payload ->> 'tranid', source_id))
        from raw.netsuite_quarantine
        where source_table = 'netsuite_transactions'
          and payload ->> 'type' in ('CustCred', 'CustPymt')
        group by all
        having client_id is not null
    """).fetchall()) if _exists(con, "raw", "netsuite_quarantine") else {}
    quarantined = (
        [_quarantine_note(row) for row in _rows(con, QUARANTINED_ROWS_SQL)]
        if _exists(con, "intermediate", "int_quarantined_rows")
        else []
    )
    return DayFacts(
        as_of=as_of,
        clients=marts["fct_client_status"],
        balances=marts["fct_client_balances"],
        open_invoices=marts["fct_open_invoices"],
        recipients=marts["fct_client_recipients"],
        invoice_lines=marts["fct_invoice_lines"],
        predue=marts["fct_predue_invoices"],
        quarantined=quarantined,
        delivered=dict(delivered),
        active_holds=holds,
        later_run=later_run,
        unread_credits=unread_credits,
    )


QUARANTINED_ROWS_SQL = """
    select source_table, source_id, document_number, client_id, reason
    from intermediate.int_quarantined_rows
    order by source_table, source_id, reason
"""


def _quarantine_note(row: dict) -> dict:
    """One line of the quarantine ops alert: which row, then why (never an address)."""
    parts = [row["source_table"].removeprefix("netsuite_"), row["source_id"] or "?"]
    if row["document_number"]:
        parts.append(row["document_number"])
    if row["client_id"] is not None:
        parts.append(f"client {row['client_id']}")
    return {"source_id": " ".join(str(p) for p in parts), "reason": row["reason"]}


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()
    )


def write_plan(
    con: duckdb.DuckDBPyConnection, as_of: date, planned: list[PlannedMessage]
) -> int:
    """Replaces the day's plan table rows and records them in the ledger."""
    con.execute(PLAN_DDL)
    con.execute("delete from plan.messages where as_of = ?", [as_of])
    if not planned:
        return 0
    con.executemany(
        "insert into plan.messages values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                as_of,
                p.entry.message_key,
                p.entry.channel,
                p.entry.kind,
                p.entry.client_id,
                p.entry.status,
                p.entry.reason,
                to_json(p.payload) if p.payload is not None else None,
            )
            for p in planned
        ],
    )
    return record_plan(con, [p.entry for p in planned])


@asset(
    key=AssetKey(["plan", "messages"]),
    deps=[AssetKey(["marts", name]) for name in MARTS],
    partitions_def=daily_partitions,
    backfill_policy=one_day_per_run,
    group_name="plan",
    kinds={"duckdb", "python"},
)
def plan_messages(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """Every message of the business date, decided: recipients, amounts per currency,
    invoices and attachments for each planned message, and a reason for every client
    that gets no email. One row per message key; the same rows go to ops.ledger."""
    as_of = partition_date(context.partition_key)
    policy = load_policy()
    with warehouse.connect() as con:
        ensure_ledger(con)
        facts = read_day_facts(con, as_of)
        planned = plan_day(facts, policy)
        new_rows = write_plan(con, as_of, planned)

    kinds = Counter(p.entry.kind for p in planned if p.entry.status == "planned")
    skips = Counter(p.entry.reason for p in planned if p.entry.status == "skipped")
    skip_reasons = Counter(r.split(":")[0] for r in skips.elements())
    context.log.info(
        f"planned {sum(kinds.values())} messages for {as_of}, "
        f"{sum(skips.values())} clients skipped"
    )
    table = "\n".join(f"| {k} | {n} |" for k, n in sorted(kinds.items()))
    skip_table = "\n".join(f"| {k} | {n} |" for k, n in sorted(skip_reasons.items()))
    return MaterializeResult(
        metadata={
            "clients_evaluated": len({p.entry.client_id for p in planned
                                      if p.entry.kind == "client_overdue"}),
            "planned_by_kind": MetadataValue.md(f"| kind | n |\n|---|---|\n{table}"),
            "skipped_by_reason": MetadataValue.md(f"| reason | n |\n|---|---|\n{skip_table}"),
            "ledger_rows_new": new_rows,
        }
    )
