"""Campaign holds placed and lifted through campaign control, each exactly once."""

import json
from collections import Counter

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
        for key, kind, client_id, _, body in pending_outgoing(con, as_of, "campaign"):
            record = {"message_key": key, "kind": kind, "client_id": client_id,
                      **json.loads(body)}
            outcomes[deliver_once(con, key, lambda r=record: outbox.append("campaign", r))] += 1
    return summarize(context, "campaign holds", outcomes)
