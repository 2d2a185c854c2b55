"""Campaign holds placed and lifted through campaign control and HubSpot, each once."""

import json
from collections import Counter

from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, asset

from ar_assets.deliver.campaign.control import CampaignControlResource
from ar_assets.deliver.channels import DeliveryResult, Outbox
from ar_assets.deliver.chat.ops import send_ops_alert
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.deliver.dry_run import dry_run_requested, report_dry_run
from ar_assets.deliver.hubspot.client import API_EXCEPTIONS, HubSpotCrm, HubSpotUnavailable
from ar_assets.deliver.hubspot.logbook import log_in_mode, remember_companies
from ar_assets.deliver.hubspot.settings import HubSpotResource
from ar_assets.deliver.hubspot.sources import plan_notes
from ar_assets.deliver.protocol import deliver_once, flag_interrupted, pending_outgoing
from ar_assets.partitions import daily_partitions, one_day_per_run, partition_date
from ar_assets.plan.messages import message_key
from ar_assets.resources import Warehouse


def hold_property_value(payload: dict) -> str:
    """The company's ar_campaign_hold: date and reason while held, empty once lifted."""
    if payload.get("action") == "lift":
        return ""
    return f"{payload.get('as_of')}: {payload.get('reason')}"


def control_payload(key: str, payload: dict) -> dict:
    return {"action": payload["action"], "netsuite_customer_id": str(payload["client_id"]),
            "client_name": payload.get("client_name"), "reason": payload.get("reason"),
            "as_of": payload.get("as_of"), "message_key": key}


class HoldTransitions:
    """Applies one transition: campaign control first (the pause itself), then the
    company property in HubSpot. Both are idempotent, so a failed transition is
    retried whole."""

    def __init__(self, control: CampaignControlResource, crm: HubSpotCrm | None,
                 companies: dict[str, list[str]], hold_property: str) -> None:
        self.control = control
        self.crm = crm
        self.companies = companies
        self.hold_property = hold_property
        self.problems: list[str] = []

    def apply(self, key: str, payload: dict) -> DeliveryResult:
        result = self.control.send(control_payload(key, payload), key)
        if result.status != "delivered" or self.crm is None:
            return result
        netsuite_id = str(payload["client_id"])
        matches = self.companies.get(netsuite_id, [])
        if len(matches) != 1:
            # Campaigns are paused; the CRM flag needs the one company, never a guess.
            found = f"{len(matches)} HubSpot companies ({', '.join(matches)})" if matches \
                else "no HubSpot company"
            self.problems.append(f"client {netsuite_id}: {found} with netsuite_customer_id "
                                 f"{netsuite_id}; {self.hold_property} not set")
            return result
        try:
            self.crm.update_company(matches[0], {self.hold_property: hold_property_value(payload)})
        except HubSpotUnavailable as exc:
            return DeliveryResult("failed", f"campaign control done; {exc}")
        except API_EXCEPTIONS as exc:
            return DeliveryResult("failed", f"campaign control done; hubspot {exc.status} "
                                  f"setting {self.hold_property}")
        return result


@asset(
    key=AssetKey(["deliver", "campaign_holds"]),
    deps=[AssetKey(["render", "outgoing"])],
    partitions_def=daily_partitions,
    backfill_policy=one_day_per_run,
    group_name="deliver",
    kinds={"hubspot"},
)
def deliver_campaign_holds(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox,
    campaign_control: CampaignControlResource, hubspot: HubSpotResource,
    chat: GoogleChatResource,
) -> MaterializeResult:
    """Campaign holds placed on entering tier 3 and lifted once the balance is resolved:
    the campaign-control webhook and the company's ar_campaign_hold property (date and
    reason), each transition once."""
    as_of = partition_date(context.partition_key)
    outcomes: Counter = Counter()
    with warehouse.connect() as con:
        interrupted = flag_interrupted(con, as_of, "campaign")
        pending = [(key, kind, client_id, json.loads(body))
                   for key, kind, client_id, _, body in pending_outgoing(con, as_of, "campaign")]
        if dry_run_requested():
            return report_dry_run(context, "campaign holds", len(pending))
        if not campaign_control.uses_webhook():
            for key, kind, client_id, payload in pending:
                record = {"message_key": key, "kind": kind, "client_id": client_id, **payload,
                          "hubspot_property": {hubspot.hold_property:
                                               hold_property_value(payload)}}
                send = lambda r=record: outbox.append("campaign", r)  # noqa: E731
                outcomes[deliver_once(con, key, send)] += 1
            problems: list[str] = []
            crm = None
        else:
            crm = hubspot.crm() if pending and hubspot.uses_api() else None
            try:
                companies = crm.find_companies({str(p[2]) for p in pending}) if crm else {}
            except HubSpotUnavailable as exc:
                raise Failure(description=f"campaign holds not applied: {exc}") from None
            if crm is not None:
                remember_companies(con, crm)
            transitions = HoldTransitions(campaign_control, crm, companies,
                                          hubspot.hold_property)
            for key, _, _, payload in pending:
                send = lambda k=key, p=payload: transitions.apply(k, p)  # noqa: E731
                outcomes[deliver_once(con, key, send)] += 1
            problems = transitions.problems
            if problems:
                send_ops_alert(con, chat, outbox, as_of,
                               message_key(as_of, "ops_alert", "campaign_hold_company_match"),
                               "Campaign hold: HubSpot company not matched", problems)
        # The note on the company; the HubSpot step completes any left undone.
        notes = plan_notes(con, as_of, hubspot.message_key_property, holds_only=True)
        noted = log_in_mode(con, hubspot, outbox, chat, as_of, notes, crm=crm).report

    context.log.info(
        f"campaign holds: {outcomes['delivered']} applied, {outcomes['failed']} failed, "
        f"{outcomes['unknown']} unknown, {len(interrupted)} interrupted earlier"
    )
    metadata = {k: int(v) for k, v in sorted(outcomes.items())}
    metadata |= {"interrupted": len(interrupted), "company_match_problems": len(problems),
                 "notes_logged": noted.outcomes["delivered"] + noted.outcomes["found_logged"]}
    if noted.unavailable:
        context.log.warning(f"hold notes not logged now: {noted.unavailable}")
    if outcomes["failed"] or outcomes["unknown"]:
        raise Failure(description=f"{outcomes['failed']} campaign hold transitions failed, "
                      f"{outcomes['unknown']} unknown; failed ones are retried by the next "
                      "run of the day", metadata=metadata)
    return MaterializeResult(metadata=metadata)
