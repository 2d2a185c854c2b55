"""The merged copy of NetSuite's AR documents, and the as-of snapshot drawn from it.

Schema `netsuite_sync` keeps every transaction and invoice line pulled so far
(merged by id), the rows quarantined while pulling them, and the sync state:
the business date the copy stands at, the date of its last full snapshot and
the high-water mark of `lastmodifieddate`. `raw.netsuite_*` is always redrawn
from a copy as a complete snapshot as of the run's date, with the same filter
the full-snapshot query applies at the source, so dbt reads the same shape
whether the run pulled everything or only what changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from ar_assets.land.bulk import encode_rows, insert_encoded, insert_rows
from ar_assets.land.parsing import Quarantined, RawTable
from ar_assets.land.queries import PAID_HISTORY_DAYS

RAW_SCHEMA = "raw"
SYNC_SCHEMA = "netsuite_sync"
QUARANTINE_TABLE = "netsuite_quarantine"
QUARANTINE_COLUMNS = [("source_table", "VARCHAR"), ("source_id", "VARCHAR"),
                      ("reason", "VARCHAR"), ("payload", "JSON")]
SNAPSHOT_COLUMNS = [("as_of", "DATE"), ("landed_at", "TIMESTAMP")]


@dataclass(frozen=True)
class SyncState:
    as_of: date
    full_as_of: date
    watermark: datetime | None


def read_state(con: duckdb.DuckDBPyConnection) -> SyncState | None:
    """Returns where the merged copy stands, or None before the first load."""
    exists = con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = 'state'",
        [SYNC_SCHEMA],
    ).fetchone()
    if not exists:
        return None
    row = con.execute(f"select as_of, full_as_of, watermark from {SYNC_SCHEMA}.state").fetchone()
    return SyncState(*row) if row else None


def write_state(con: duckdb.DuckDBPyConnection, as_of: date, full_as_of: date) -> SyncState:
    """Records the copy as standing at `as_of`; the watermark is the newest change it holds."""
    watermark = con.execute(
        f"select max(lastmodifieddate) from {SYNC_SCHEMA}.netsuite_transactions"
    ).fetchone()[0]
    con.execute(f"create or replace table {SYNC_SCHEMA}.state (as_of DATE, full_as_of DATE, "
                "watermark TIMESTAMP, updated_at TIMESTAMP)")
    con.execute(f"insert into {SYNC_SCHEMA}.state values (?, ?, ?, current_timestamp)",
                [as_of, full_as_of, watermark])
    return SyncState(as_of, full_as_of, watermark)


def _quarantine_rows(quarantined: Sequence[Quarantined]) -> list[tuple]:
    return [(q.source_table, q.source_id, q.reason, json.dumps(q.payload, default=str))
            for q in quarantined]


def _create(con: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[str, str]],
            records: list[str], temp: bool = False) -> None:
    """Creates (or replaces) a table holding rows encoded by bulk.encode_rows."""
    ddl = ", ".join(f'"{column}" {sql_type}' for column, sql_type in columns)
    con.execute(f"create or replace {'temp ' if temp else ''}table {name} ({ddl})")
    insert_encoded(con, name, columns, records)


def replace_copy(
    con: duckdb.DuckDBPyConnection, schema: str, tables: Sequence[RawTable],
    rows: dict[str, list[str]], quarantined: Sequence[Quarantined],
) -> None:
    """Replaces a copy (the merged store, or a scratch copy in `temp`) with pulled rows
    (encoded by bulk.encode_rows, as landing's page parser leaves them)."""
    prefix, temp = f"{schema}.", schema == "temp"
    for table in tables:
        _create(con, f"{prefix}{table.name}", table.typed(), rows[table.name], temp)
    _create(con, f"{prefix}{QUARANTINE_TABLE}", QUARANTINE_COLUMNS,
            encode_rows(_quarantine_rows(quarantined)), temp)


def merge_changes(
    con: duckdb.DuckDBPyConnection, transactions: RawTable, lines: RawTable,
    rows: dict[str, list[str]], quarantined: Sequence[Quarantined],
) -> None:
    """Merges pulled transactions and lines into the store, newest version winning.

    A document pulled again replaces its stored row, its lines and any earlier
    quarantine entry; one that now fails to parse leaves the store and stays
    quarantined until a good version arrives.
    """
    store = SYNC_SCHEMA
    _create(con, "pulled_transactions", transactions.typed(), rows[transactions.name], True)
    _create(con, "pulled_lines", lines.typed(), rows[lines.name], True)
    _create(con, "pulled_quarantine", QUARANTINE_COLUMNS,
            encode_rows(_quarantine_rows(quarantined)), True)
    con.execute("""
        create or replace temp table touched as
        select id from pulled_transactions
        union select transaction from pulled_lines
        union select try_cast(source_id as BIGINT) from pulled_quarantine
        where source_id is not null
    """)
    con.execute(f"delete from {store}.{transactions.name} where id in (select id from touched)")
    con.execute(f"delete from {store}.{lines.name} where transaction in (select id from touched)")
    con.execute(f"""
        delete from {store}.{QUARANTINE_TABLE}
        where source_table in ('{transactions.name}', '{lines.name}')
          and try_cast(source_id as BIGINT) in (select id from touched)
    """)
    con.execute(f"insert into {store}.{transactions.name} select * from pulled_transactions")
    con.execute(f"insert into {store}.{lines.name} select * from pulled_lines")
    con.execute(f"insert into {store}.{QUARANTINE_TABLE} select * from pulled_quarantine")
    for name in ("pulled_transactions", "pulled_lines", "pulled_quarantine", "touched"):
        con.execute(f"drop table {name}")


def landed_filter(as_of: date) -> str:
    """Returns, in DuckDB SQL, the landed-set predicate the full-snapshot query applies
    at the source (queries._landed_transaction_filter), for rows of the copy."""
    paid_since = (as_of - timedelta(days=PAID_HISTORY_DAYS)).isoformat()
    return f"""not coalesce(is_voided, false)
        and (
            (type = 'CustInvc' and status_code = 'CustInvc:A')
            or (type = 'CustInvc' and status_code = 'CustInvc:B'
                and closedate >= DATE '{paid_since}')
            or (type in ('CustCred', 'CustPymt') and foreignpaymentamountunused > 0)
        )"""


def materialize_snapshot(
    con: duckdb.DuckDBPyConnection, source: str, transactions: RawTable, lines: RawTable,
    as_of: date, landed_at: datetime,
) -> None:
    """Draws raw transactions, lines and quarantine as of `as_of` from a copy.

    `source` is the copy's schema: 'netsuite_sync', or 'temp' for a scratch copy.
    """
    stamp = f"DATE '{as_of.isoformat()}' as as_of, TIMESTAMP '{landed_at.isoformat(' ')}' " \
            "as landed_at"
    txn_cols = ", ".join(f'"{c.name}"' for c in transactions.raw_columns)
    line_cols = ", ".join(f'l."{c.name}"' for c in lines.raw_columns)
    con.execute(f"""
        create or replace table {RAW_SCHEMA}.{transactions.name} as
        select {txn_cols}, {stamp}
        from {source}.{transactions.name}
        where {landed_filter(as_of)}
        order by id
    """)
    con.execute(f"""
        create or replace table {RAW_SCHEMA}.{lines.name} as
        select {line_cols}, {stamp}
        from {source}.{lines.name} as l
        where l.transaction in (
            select id from {RAW_SCHEMA}.{transactions.name} where type = 'CustInvc'
        )
        order by l.transaction, l.linesequencenumber
    """)
    con.execute(f"""
        create or replace table {RAW_SCHEMA}.{QUARANTINE_TABLE} as
        select *, {stamp} from {source}.{QUARANTINE_TABLE}
    """)


def land_table(
    con: duckdb.DuckDBPyConnection, table: RawTable, rows: list[tuple], as_of: date,
    landed_at: datetime,
) -> None:
    """Replaces a raw table that is read whole every run (customers, currencies, ...)."""
    _create(con, f"{RAW_SCHEMA}.{table.name}", table.typed() + SNAPSHOT_COLUMNS,
            encode_rows(row + (as_of, landed_at) for row in rows))


def add_quarantine(
    con: duckdb.DuckDBPyConnection, quarantined: Sequence[Quarantined], as_of: date,
    landed_at: datetime,
) -> None:
    """Appends rows quarantined from the tables read whole to raw.netsuite_quarantine."""
    rows = [row + (as_of, landed_at) for row in _quarantine_rows(quarantined)]
    insert_rows(con, f"{RAW_SCHEMA}.{QUARANTINE_TABLE}", QUARANTINE_COLUMNS + SNAPSHOT_COLUMNS,
                rows)


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(f"create schema if not exists {SYNC_SCHEMA}")
