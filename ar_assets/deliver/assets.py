"""Delivers the day's rendered messages exactly once per message key.

For every message: claim it in the ledger (planned/failed -> sending), make
the external call, then record delivered, failed or unknown. A row found in
`sending` at the start of a step belongs to a run that stopped mid-call: its
outcome is unknown, so it is marked unknown and raised to ops, never resent.
"""


import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path

import duckdb
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from ar_assets.deliver.channels import DeliveryResult, Outbox
from ar_assets.ledger import (
    LedgerEntry,
    claim_for_sending,
    mark_delivered,
    mark_failed,
    mark_unknown,
    record_plan,
)
from ar_assets.partitions import daily_partitions, partition_date
from ar_assets.plan.messages import message_key
from ar_assets.resources import Warehouse

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


def _outgoing(con: duckdb.DuckDBPyConnection, as_of: date, channel: str) -> list[tuple]:
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


def _summary(context: AssetExecutionContext, what: str, outcomes: Counter) -> MaterializeResult:
    context.log.info(
        f"{what}: {outcomes['delivered']} delivered, {outcomes['failed']} failed, "
        f"{outcomes['unknown']} unknown"
    )
    return MaterializeResult(metadata={k: int(v) for k, v in sorted(outcomes.items())})


@asset(
    key=AssetKey(["deliver", "client_emails"]),
    deps=[AssetKey(["render", "outgoing"])],
    partitions_def=daily_partitions,
    group_name="deliver",
    kinds={"email"},
)
def deliver_client_emails(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox
) -> MaterializeResult:
    """Client overdue emails handed to the outbox (sandbox) or SMTP (live), each once;
    the outcome of every message is in ops.ledger."""
    as_of = partition_date(context.partition_key)
    outcomes: Counter = Counter()
    with warehouse.connect() as con:
        outcomes["interrupted"] = len(flag_interrupted(con, as_of, "email"))
        for key, _, _, eml_path, _ in _outgoing(con, as_of, "email"):
            eml = Path(eml_path).read_bytes()
            status = deliver_once(
                con, key, lambda eml=eml, key=key: outbox.write_email(as_of.isoformat(), key, eml)
            )
            outcomes[status] += 1
    return _summary(context, "client emails", outcomes)


@asset(
    key=AssetKey(["deliver", "chat_alerts"]),
    deps=[AssetKey(["render", "outgoing"]), AssetKey(["deliver", "client_emails"])],
    partitions_def=daily_partitions,
    group_name="deliver",
    kinds={"googlechat"},
)
def deliver_chat_alerts(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox
) -> MaterializeResult:
    """Google Chat alerts to AMs, the AR team, collections and ops, each once."""
    as_of = partition_date(context.partition_key)
    outcomes: Counter = Counter()
    with warehouse.connect() as con:
        outcomes["interrupted"] = len(flag_interrupted(con, as_of, "chat"))
        for key, kind, client_id, _, body in _outgoing(con, as_of, "chat"):
            record = {"message_key": key, "as_of": as_of.isoformat(), "kind": kind,
                      "client_id": client_id, "body": json.loads(body)}
            outcomes[deliver_once(con, key, lambda r=record: outbox.append("chat", r))] += 1
    return _summary(context, "chat alerts", outcomes)


@asset(
    key=AssetKey(["deliver", "hubspot_activities"]),
    deps=[AssetKey(["deliver", "client_emails"])],
    partitions_def=daily_partitions,
    group_name="deliver",
    kinds={"hubspot"},
)
def deliver_hubspot_activities(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox
) -> MaterializeResult:
    """One HubSpot email activity per delivered client email, keyed by the email's key."""
    as_of = partition_date(context.partition_key)
    outcomes: Counter = Counter()
    with warehouse.connect() as con:
        outcomes["interrupted"] = len(flag_interrupted(con, as_of, "hubspot"))
        emails = con.execute(
            """
            select l.message_key, l.client_id, l.tier, o.eml_path, l.delivered_at
            from ops.ledger l
            join render.outgoing o using (message_key)
            where l.as_of = ? and l.kind = 'client_overdue' and l.status = 'delivered'
            order by l.message_key
            """,
            [as_of],
        ).fetchall()
        entries = [
            LedgerEntry(message_key("activity", key), as_of, "hubspot", "activity",
                        client_id, "planned", tier=tier)
            for key, client_id, tier, _, _ in emails
        ]
        record_plan(con, entries)
        for (email_key, client_id, _, eml_path, delivered_at), entry in zip(emails, entries):
            message = message_from_bytes(Path(eml_path).read_bytes(), policy=policy.default)
            record = {
                "message_key": entry.message_key,
                "email_message_key": email_key,
                "netsuite_customer_id": str(client_id),
                "hs_timestamp": epoch_millis(delivered_at),
                "hs_email_subject": str(message["Subject"]),
                "hs_email_direction": "EMAIL",
                "hs_email_status": "SENT",
            }
            send = lambda r=record: outbox.append("hubspot", r)  # noqa: E731
            outcomes[deliver_once(con, entry.message_key, send)] += 1
    return _summary(context, "hubspot activities", outcomes)


@asset(
    key=AssetKey(["deliver", "campaign_holds"]),
    deps=[AssetKey(["render", "outgoing"])],
    partitions_def=daily_partitions,
    group_name="deliver",
    kinds={"hubspot"},
)
def deliver_campaign_holds(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox
) -> MaterializeResult:
    """Campaign holds placed on entering tier 3 and lifted once the balance is resolved."""
    as_of = partition_date(context.partition_key)
    outcomes: Counter = Counter()
    with warehouse.connect() as con:
        outcomes["interrupted"] = len(flag_interrupted(con, as_of, "campaign"))
        for key, kind, client_id, _, body in _outgoing(con, as_of, "campaign"):
            record = {"message_key": key, "kind": kind, "client_id": client_id,
                      **json.loads(body)}
            outcomes[deliver_once(con, key, lambda r=record: outbox.append("campaign", r))] += 1
    return _summary(context, "campaign holds", outcomes)
