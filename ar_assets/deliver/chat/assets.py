"""Google Chat alerts to AMs, the AR team, collections and ops, each exactly once."""

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
        for key, kind, client_id, _, body in pending_outgoing(con, as_of, "chat"):
            record = {"message_key": key, "as_of": as_of.isoformat(), "kind": kind,
                      "client_id": client_id, "body": json.loads(body)}
            outcomes[deliver_once(con, key, lambda r=record: outbox.append("chat", r))] += 1
    return summarize(context, "chat alerts", outcomes)
