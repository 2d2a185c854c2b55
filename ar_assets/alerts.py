"""Ops alert when a step of the daily run fails, so a silent day is impossible."""


from dagster import HookContext, failure_hook

from ar_assets.ledger import (
    LedgerEntry,
    claim_for_sending,
    ensure_ledger,
    mark_delivered,
    record_plan,
)
from ar_assets.partitions import partition_date
from ar_assets.plan.messages import message_key


@failure_hook(required_resource_keys={"warehouse", "outbox"})
def ops_alert_on_failure(context: HookContext) -> None:
    """Posts one ops alert per failed step and business date, naming the step and error."""
    run = context.instance.get_run_by_id(context.run_id)
    partition = run.tags.get("dagster/partition") if run else None
    if not partition:
        return
    as_of = partition_date(partition)
    error = context.op_exception
    summary = str(getattr(error, "description", None) or error or "unknown error")[:500]
    key = message_key(as_of, "ops_alert", "step_failed", context.step_key)
    entry = LedgerEntry(key, as_of, "chat", "ops_alert", None, "planned",
                        reason=f"step {context.step_key} failed: {summary}")
    with context.resources.warehouse.connect() as con:
        ensure_ledger(con)
        record_plan(con, [entry])
        if not claim_for_sending(con, key):
            return
        body = {"text": f"*AR run failed* {as_of}: step `{context.step_key}`\n{summary}",
                "thread": {"threadKey": f"ops-{as_of}"}}
        record = {"message_key": key, "as_of": as_of.isoformat(), "kind": "ops_alert",
                  "client_id": None, "body": body}
        context.resources.outbox.append("chat", record)
        mark_delivered(con, key)
