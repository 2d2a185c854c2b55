"""HubSpot activities: an email engagement per delivered client email, and notes for
campaign holds and collections escalations, each exactly once."""

from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, asset

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.deliver.dry_run import dry_run_requested, report_dry_run
from ar_assets.deliver.hubspot.logbook import log_in_mode
from ar_assets.deliver.hubspot.settings import HubSpotResource
from ar_assets.deliver.hubspot.sources import plan_activities
from ar_assets.deliver.protocol import flag_interrupted
from ar_assets.partitions import daily_partitions, one_day_per_run, partition_date
from ar_assets.render.assets import RenderSettings
from ar_assets.resources import Warehouse


@asset(
    key=AssetKey(["deliver", "hubspot_activities"]),
    deps=[AssetKey(["deliver", "client_emails"])],
    partitions_def=daily_partitions,
    backfill_policy=one_day_per_run,
    group_name="deliver",
    kinds={"hubspot"},
)
def deliver_hubspot_activities(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox,
    hubspot: HubSpotResource, chat: GoogleChatResource, render_settings: RenderSettings,
) -> MaterializeResult:
    """One HubSpot email engagement per delivered client email (subject, text, recipients,
    timestamp of delivery) and one note per campaign hold placed or lifted and per
    collections escalation, on the client's company found by its NetSuite id; each
    logged once, keyed in ops.ledger and in the activity's ar_message_key."""
    as_of = partition_date(context.partition_key)
    with warehouse.connect() as con:
        interrupted = flag_interrupted(con, as_of, "hubspot")
        activities = plan_activities(con, as_of, render_settings.root(),
                                     hubspot.message_key_property)
        if dry_run_requested():
            return report_dry_run(context, "hubspot activities", len(activities))
        result = log_in_mode(con, hubspot, outbox, chat, as_of, activities)

    report, calls = result.report, result.calls
    outcomes, problems, unavailable = report.outcomes, report.problems, report.unavailable
    logged = outcomes["delivered"] + outcomes["found_logged"]
    api_calls = sum(calls.values())
    context.log.info(
        f"hubspot activities: {logged} logged ({outcomes['found_logged']} found already), "
        f"{outcomes['failed']} failed, {outcomes['unknown']} unknown, "
        f"{len(interrupted)} interrupted earlier; {api_calls} API calls"
    )
    metadata = {
        "logged": logged,
        "found_already_logged": outcomes["found_logged"],
        "failed": outcomes["failed"],
        "unknown": outcomes["unknown"],
        "company_match_problems": len(problems),
        "api_calls": api_calls,
        "api_calls_per_activity": round(api_calls / logged, 3) if logged else 0.0,
        **{f"calls_{op.replace('.', '_')}": n for op, n in sorted(calls.items())},
    }
    transport_failures = outcomes["failed"] - len(problems)
    if unavailable or outcomes["unknown"] or transport_failures > 0:
        raise Failure(
            description=f"HubSpot: {unavailable or 'activities not logged'}; "
            f"{outcomes['failed']} failed, {outcomes['unknown']} unknown. Rows stay in "
            "ops.ledger and are completed (searched by ar_message_key first) by a retry.",
            metadata=metadata,
        )
    return MaterializeResult(metadata=metadata)
