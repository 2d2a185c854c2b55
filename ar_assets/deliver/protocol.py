"""The delivery protocol shared by every channel: exactly once per message key.

For every message: claim it in the ledger (planned/failed -> sending), make
the external call, then record delivered, failed or unknown. A row found in
`sending` at the start of a step belongs to a run that stopped mid-call: its
outcome is unknown, so it is marked unknown and raised to ops, never resent.
"""


from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime

import duckdb
from dagster import AssetExecutionContext, MaterializeResult

from ar_assets.deliver.channels import DeliveryResult
from ar_assets.ledger import (
    claim_for_sending,
    mark_delivered,
    mark_failed,
    mark_unknown,
)

Send = Callable[[], DeliveryResult]


def epoch_millis(utc_naive: datetime) -> int:
    """HubSpot's hs_timestamp: milliseconds since the epoch of a UTC ledger time."""
    return int(utc_naive.replace(tzinfo=UTC).timestamp() * 1000)


def deliver_once(con: duckdb.DuckDBPyConnection, key: str, send: Send) -> str:
    """Runs one send under the ledger protocol; returns the resulting status."""
    if not claim_for_sending(con, key):
        return "not_claimed"
    try:
        result = send()
    except Exception as exc:  # noqa: BLE001 - any error mid-call leaves the outcome open
        mark_unknown(con, key, f"error during send: {type(exc).__name__}")
        return "unknown"
    if result.status == "delivered":
        mark_delivered(con, key, result.external_id)
    elif result.status == "failed":
        mark_failed(con, key, result.reason or "failed")
    else:
        mark_unknown(con, key, result.reason or "outcome unknown")
    return result.status


def flag_interrupted(con: duckdb.DuckDBPyConnection, as_of: date, channel: str) -> list[str]:
    """Marks rows left in `sending` by a stopped run as unknown; returns their keys."""
    rows = con.execute(
        """
        update ops.ledger
        set status = 'unknown', reason = 'interrupted while sending; not resent'
        where status = 'sending' and channel = ? and as_of <= ?
        returning message_key
        """,
        [channel, as_of],
    ).fetchall()
    return [r[0] for r in rows]


def pending_outgoing(con: duckdb.DuckDBPyConnection, as_of: date, channel: str) -> list[tuple]:
    return con.execute(
        """
        select o.message_key, o.kind, o.client_id, o.eml_path, o.body
        from render.outgoing o
        join ops.ledger l using (message_key)
        where o.as_of = ? and o.channel = ? and l.status in ('planned', 'failed')
        order by o.message_key
        """,
        [as_of, channel],
    ).fetchall()


def summarize(context: AssetExecutionContext, what: str, outcomes: Counter) -> MaterializeResult:
    context.log.info(
        f"{what}: {outcomes['delivered']} delivered, {outcomes['failed']} failed, "
        f"{outcomes['unknown']} unknown"
    )
    return MaterializeResult(metadata={k: int(v) for k, v in sorted(outcomes.items())})


