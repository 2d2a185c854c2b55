"""ops.ledger: one row per planned message, the record of what we told whom.

A message moves planned -> sending -> delivered | failed | unknown, and each
move is committed before the next external call, so a crash at any point
leaves a row that says what may have happened. A delivered row is never sent
again; an unknown row (the call may have gone through) is never resent
automatically; a failed row is retried by the next plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

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
# A plan may overwrite a row only while nothing may have left the building.
REPLANNABLE = ("planned", "skipped", "failed")


@dataclass(frozen=True)
class LedgerEntry:
    message_key: str
    as_of: date
    channel: str
    kind: str
    client_id: int | None
    status: str
    invoice_ids: tuple[str, ...] = ()
    tier: int | None = None
    amounts: dict[str, Decimal] = field(default_factory=dict)
    reason: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LEDGER_DDL)


def record_plan(con: duckdb.DuckDBPyConnection, entries: Iterable[LedgerEntry]) -> int:
    """Writes planned and skipped rows; returns how many rows were new or replanned.

    Rows already sending, delivered or unknown are left exactly as they are.
    """
    rows = [
        (
            e.message_key,
            e.as_of,
            e.channel,
            e.kind,
            e.client_id,
            list(e.invoice_ids),
            e.tier,
            json.dumps({k: str(v) for k, v in sorted(e.amounts.items())}),
            e.status,
            e.reason,
            utcnow(),
        )
        for e in entries
    ]
    if not rows:
        return 0
    con.execute("create or replace temp table _plan_rows as select * from ops.ledger limit 0")
    con.executemany(
        """
        insert into _plan_rows (message_key, as_of, channel, kind, client_id,
            invoice_ids, tier, amounts, status, reason, planned_at)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        rows,
    )
    before = con.execute("select count(*) from ops.ledger").fetchone()[0]
    con.execute(
        f"""
        insert into ops.ledger by name
        select * exclude (attempts), 0 as attempts from _plan_rows
        on conflict (message_key) do update set
            as_of = excluded.as_of,
            tier = excluded.tier,
            amounts = excluded.amounts,
            invoice_ids = excluded.invoice_ids,
            status = excluded.status,
            reason = excluded.reason,
            planned_at = excluded.planned_at
        where ops.ledger.status in {REPLANNABLE}
        """
    )
    after = con.execute("select count(*) from ops.ledger").fetchone()[0]
    return after - before


def status_of(con: duckdb.DuckDBPyConnection, message_key: str) -> str | None:
    row = con.execute(
        "select status from ops.ledger where message_key = ?", [message_key]
    ).fetchone()
    return row[0] if row else None


def claim_for_sending(con: duckdb.DuckDBPyConnection, message_key: str) -> bool:
    """Moves a planned or failed row to sending; returns False if it must not be sent."""
    claimed = con.execute(
        """
        update ops.ledger
        set status = 'sending', sending_at = ?, attempts = attempts + 1, reason = null
        where message_key = ? and status in ('planned', 'failed')
        returning message_key
        """,
        [utcnow(), message_key],
    ).fetchall()
    return bool(claimed)


def mark_delivered(
    con: duckdb.DuckDBPyConnection, message_key: str, external_id: str | None = None
) -> None:
    con.execute(
        """
        update ops.ledger
        set status = 'delivered', delivered_at = ?, external_id = ?, reason = null
        where message_key = ?
        """,
        [utcnow(), external_id, message_key],
    )


def mark_failed(con: duckdb.DuckDBPyConnection, message_key: str, reason: str) -> None:
    con.execute(
        "update ops.ledger set status = 'failed', reason = ? where message_key = ?",
        [reason, message_key],
    )


def mark_unknown(con: duckdb.DuckDBPyConnection, message_key: str, reason: str) -> None:
    con.execute(
        "update ops.ledger set status = 'unknown', reason = ? where message_key = ?",
        [reason, message_key],
    )
