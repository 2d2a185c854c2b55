"""Client overdue emails: handed to the sandbox outbox or to SMTP, each exactly once."""

from collections import Counter
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.protocol import (
    deliver_once,
    flag_interrupted,
    pending_outgoing,
    summarize,
)
from ar_assets.partitions import daily_partitions, partition_date
from ar_assets.resources import Warehouse


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
        for key, _, _, eml_path, _ in pending_outgoing(con, as_of, "email"):
            eml = Path(eml_path).read_bytes()
            status = deliver_once(
                con, key, lambda eml=eml, key=key: outbox.write_email(as_of.isoformat(), key, eml)
            )
            outcomes[status] += 1
    return summarize(context, "client emails", outcomes)
