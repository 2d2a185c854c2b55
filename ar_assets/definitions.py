"""Every asset, check, job, schedule and resource of the AR alerting platform."""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    Definitions,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
)

from ar_assets.alerts import ops_alert_on_failure, run_failure_sensor
from ar_assets.deliver.campaign.assets import deliver_campaign_holds
from ar_assets.deliver.campaign.control import campaign_control_resource
from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.assets import deliver_chat_alerts
from ar_assets.deliver.chat.settings import chat_resource
from ar_assets.deliver.email.assets import deliver_client_emails
from ar_assets.deliver.email.smtp import smtp_sender_for_mode
from ar_assets.deliver.hubspot.assets import deliver_hubspot_activities
from ar_assets.deliver.hubspot.settings import hubspot_resource
from ar_assets.gate.approval import approve_plan, plan_is_approved
from ar_assets.gate.checks import amounts_carry_a_known_currency, money_columns_are_decimal
from ar_assets.gate.reconciliation import open_ar_reconciles_with_source
from ar_assets.land.assets import netsuite_raw
from ar_assets.land.resources import netsuite_resource_from_env
from ar_assets.model.assets import dbt_models
from ar_assets.plan.assets import plan_messages
from ar_assets.policy import load_policy
from ar_assets.render.assets import RenderSettings, render_outgoing
from ar_assets.resources import Warehouse

ALL_ASSETS = [
    netsuite_raw,
    dbt_models,
    plan_messages,
    render_outgoing,
    deliver_client_emails,
    deliver_chat_alerts,
    deliver_hubspot_activities,
    deliver_campaign_holds,
]

# One process per run: DuckDB allows a single writer per file, and dbt runs in
# the step's own process so a replayed day does not pay dbt's start-up again.
daily_ar_job = define_asset_job(
    "daily_ar_run",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    hooks={ops_alert_on_failure},
    description="Land, model, gate, plan, render and deliver one business date.",
)

policy = load_policy()
hour, minute = (int(x) for x in policy.schedule_time.split(":"))
daily_ar_schedule = build_schedule_from_partitioned_job(
    daily_ar_job, hour_of_day=hour, minute_of_hour=minute
)


def build_resources() -> dict:
    """Resources for the mode named by AR_MODE (sandbox, the default, or live)."""
    return {
        "warehouse": Warehouse(),
        "netsuite": netsuite_resource_from_env(
            sandbox=os.environ.get("AR_MODE", "sandbox") == "sandbox"
        ),
        "outbox": Outbox(),
        "chat": chat_resource(),
        "hubspot": hubspot_resource(),
        "campaign_control": campaign_control_resource(),
        "smtp": smtp_sender_for_mode(),
        "render_settings": RenderSettings(),
    }


GATES = [
    open_ar_reconciles_with_source,
    money_columns_are_decimal,
    amounts_carry_a_known_currency,
    plan_is_approved,
]

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=GATES,
    jobs=[daily_ar_job, approve_plan],
    schedules=[daily_ar_schedule],
    sensors=[run_failure_sensor],
    resources=build_resources(),
)
