"""ops.ledger: one row per planned message, the record of what we told whom."""

from __future__ import annotations

import duckdb

LEDGER_DDL = """
create schema if not exists ops;
create table if not exists ops.ledger (
    message_key varchar primary key,
    as_of date not null,
    channel varchar not null,
    kind varchar not null,
    client_id bigint,
    invoice_ids varchar[],
    tier integer,
    amounts json,
    status varchar not null,
    reason varchar,
    attempts integer not null default 0,
    planned_at timestamp,
    sending_at timestamp,
    delivered_at timestamp,
    external_id varchar
);
"""

STATUSES = ("planned", "sending", "delivered", "skipped", "failed", "unknown")


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LEDGER_DDL)
