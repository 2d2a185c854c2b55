"""HubSpot email activities for delivered client emails, each exactly once."""

from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.protocol import (
    deliver_once,
    epoch_millis,
    flag_interrupted,
    summarize,
)
from ar_assets.ledger import LedgerEntry, record_plan
from ar_assets.partitions import daily_partitions, partition_date
from ar_assets.plan.messages import message_key
from ar_assets.resources import Warehouse


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
    return summarize(context, "hubspot activities", outcomes)
