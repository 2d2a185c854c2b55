"""Google Chat alerts to AMs, the AR team, collections and ops, each exactly once."""

import json

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.delivery import PendingAlert, deliver_alerts, planned_space
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.deliver.dry_run import dry_run_requested, report_dry_run
from ar_assets.deliver.protocol import flag_interrupted
from ar_assets.partitions import daily_partitions, one_day_per_run, partition_date
from ar_assets.resources import Warehouse


def pending_alerts(con: duckdb.DuckDBPyConnection, as_of) -> list[PendingAlert]:
    """The day's rendered alerts whose ledger rows are planned or failed."""
    rows = con.execute(
        """
        select o.message_key, o.kind, o.client_id, o.body, m.payload
        from render.outgoing o
        join ops.ledger l using (message_key)
        left join plan.messages m on m.message_key = o.message_key and m.as_of = o.as_of
        where o.as_of = ? and o.channel = 'chat' and l.status in ('planned', 'failed')
        order by o.message_key
        """,
        [as_of],
    ).fetchall()
    alerts = []
    for key, kind, client_id, body, payload in rows:
        plan = json.loads(payload) if payload else {}
        alerts.append(PendingAlert(key, kind, client_id, planned_space(kind, plan.get("space")),
                                   json.loads(body), plan.get("oldest_dpd")))
    return alerts


def am_chat_spaces(con: duckdb.DuckDBPyConnection) -> dict[int, str | None]:
    """The Chat space on each AM's employee record."""
    rows = con.execute(
        "select distinct am_id, am_chat_space from marts.fct_client_status "
        "where am_id is not null"
    ).fetchall()
    return {int(am_id): space for am_id, space in rows}


@asset(
    key=AssetKey(["deliver", "chat_alerts"]),
    deps=[AssetKey(["render", "outgoing"]), AssetKey(["deliver", "client_emails"])],
    partitions_def=daily_partitions,
    backfill_policy=one_day_per_run,
    group_name="deliver",
    kinds={"googlechat"},
)
def deliver_chat_alerts(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox,
    chat: GoogleChatResource,
) -> MaterializeResult:
    """Google Chat alerts to AMs, the AR team, collections and ops, each once: a card per
    alert threaded per client, or a digest for a space with many; outcomes per alert in
    ops.ledger. Runs after the client emails, which a Chat failure never holds back."""
    as_of = partition_date(context.partition_key)
    with warehouse.connect() as con:
        interrupted = flag_interrupted(con, as_of, "chat")
        alerts = pending_alerts(con, as_of)
        if dry_run_requested():
            return report_dry_run(context, "chat alerts", len(alerts))
        report = deliver_alerts(con, chat, outbox, as_of, alerts, am_chat_spaces(con))

    outcomes = report.outcomes
    busiest = max(report.messages_per_space.values(), default=0)
    context.log.info(
        f"chat alerts: {outcomes['delivered']} delivered, {outcomes['failed']} failed, "
        f"{outcomes['unknown']} unknown in {sum(report.messages_per_space.values())} "
        f"messages ({report.digests} digests) to {len(report.messages_per_space)} spaces; "
        f"{len(interrupted)} interrupted earlier"
    )
    table = "\n".join(f"| {space} | {n} |" for space, n in
                      sorted(report.messages_per_space.items()))
    metadata = {
        "delivered": outcomes["delivered"],
        "failed": outcomes["failed"],
        "unknown": outcomes["unknown"],
        "interrupted": len(interrupted),
        "messages": sum(report.messages_per_space.values()),
        "digests": report.digests,
        "http_requests": report.requests,
        "most_messages_to_one_space": busiest,
        "routed_to_ar_team_fallback": report.routed_to_fallback,
        "messages_per_space": MetadataValue.md(f"| space | messages |\n|---|---|\n{table}"),
    }
    if outcomes["failed"] or outcomes["unknown"]:
        reasons = "; ".join(f"{r} ({n})" for r, n in report.failures.most_common(5))
        raise Failure(
            description=f"{outcomes['failed']} chat alerts failed ({reasons or 'none'}), "
            f"{outcomes['unknown']} with an unknown outcome (never resent). Client emails "
            "are unaffected; failed alerts are retried by the next run of the day.",
            metadata=metadata,
        )
    return MaterializeResult(metadata=metadata)
