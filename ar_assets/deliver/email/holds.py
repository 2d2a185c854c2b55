"""Client emails held back because an earlier email to the same client may have arrived.

An email whose outcome is unknown (a timeout or a dropped connection after its
content went out, or a run stopped mid-send) stays unknown in the ledger and
is never resent. The planner counts only delivered emails for the cadence, so
the next day plans a fresh reminder for that client; sending it could make two
reminders in two days. It is held (skipped, with the reason) until ops settle
the earlier row in ops.ledger as delivered or failed.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import duckdb

from ar_assets.ledger import LedgerEntry, record_plan

HELD_REASON = "held: an earlier client email has an unknown outcome; settle it in ops.ledger"
HELD_NOTE = "held, an earlier email has an unknown outcome"


def clients_with_unknown_email(con: duckdb.DuckDBPyConnection, as_of: date) -> set[int]:
    rows = con.execute(
        """
        select distinct client_id
        from ops.ledger
        where channel = 'email' and kind = 'client_overdue'
          and status = 'unknown' and as_of < ?
        """,
        [as_of],
    ).fetchall()
    return {r[0] for r in rows}


def hold_email(con: duckdb.DuckDBPyConnection, message_key: str) -> None:
    """Marks a planned (or failed) client email skipped with the hold reason, keeping
    its tier, invoices and amounts."""
    row = con.execute(
        """
        select as_of, client_id, invoice_ids, tier, amounts
        from ops.ledger where message_key = ?
        """,
        [message_key],
    ).fetchone()
    as_of, client_id, invoice_ids, tier, amounts = row
    entry = LedgerEntry(
        message_key, as_of, "email", "client_overdue", client_id, "skipped",
        invoice_ids=tuple(invoice_ids or ()), tier=tier,
        amounts={k: Decimal(v) for k, v in json.loads(amounts or "{}").items()},
        reason=HELD_REASON,
    )
    record_plan(con, [entry])
