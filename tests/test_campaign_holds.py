"""A campaign hold pauses the client's campaigns through campaign control and marks the
HubSpot company (ar_campaign_hold: date and reason); lifting clears both. A retried
transition changes nothing twice, and a company that cannot be matched is reported.

Real httpx and hubspot-api-client calls against the loopback HubSpot, which also serves
the campaign-control webhook."""

from __future__ import annotations

import pytest

from ar_assets.deliver.campaign.assets import HoldTransitions
from ar_assets.deliver.campaign.control import CampaignControlResource
from ar_assets.deliver.hubspot.settings import HubSpotResource
from ar_assets.sandbox.hubspot_server import CAMPAIGN_TOKEN, HubSpotSandbox
from ar_assets.sandbox.serve import serve_app

PLACE = {"client_id": 41, "client_name": "C41 Trading", "action": "place",
         "reason": "tier 3: third offence", "as_of": "2026-06-16"}
LIFT = {"client_id": 41, "client_name": "C41 Trading", "action": "lift",
        "reason": "balance resolved", "as_of": "2026-07-02"}


@pytest.fixture
def portal():
    sandbox = HubSpotSandbox([("41", "C41 Trading"), ("42", "C42 Trading")])
    with serve_app(sandbox.app) as url:
        sandbox.url = url
        yield sandbox


def transitions(portal, companies=None) -> HoldTransitions:
    control = CampaignControlResource(
        webhook_url=f"{portal.url}/_campaign/holds?token={CAMPAIGN_TOKEN}", mode="webhook",
        backoff_seconds=0.01)
    crm = HubSpotResource(host=portal.url, access_token=portal.token, mode="api",
                          backoff_seconds=0.01, max_attempts=2).crm()
    found = crm.find_companies(["41", "42", "43"]) if companies is None else companies
    return HoldTransitions(control, crm, found, "ar_campaign_hold")


def hold_property(portal, netsuite_id: str = "41") -> str | None:
    [company_id] = portal.company_ids(netsuite_id)
    return portal.objects["companies"][company_id]["properties"].get("ar_campaign_hold")


def test_placing_a_hold_pauses_campaigns_and_marks_the_company(portal):
    result = transitions(portal).apply("hold-key-1", PLACE)

    assert result.status == "delivered"
    assert portal.holds() == {"41": "place"}
    [call] = portal.campaign_calls
    assert call["idempotency_key"] == "hold-key-1"
    assert call["reason"] == "tier 3: third offence"
    assert hold_property(portal) == "2026-06-16: tier 3: third offence"
    assert hold_property(portal, "42") is None


def test_lifting_the_hold_resumes_campaigns_and_clears_the_property(portal):
    steps = transitions(portal)
    steps.apply("hold-key-1", PLACE)

    result = steps.apply("lift-key-1", LIFT)

    assert result.status == "delivered"
    assert portal.holds() == {"41": "lift"}
    assert hold_property(portal) == ""


def test_a_retried_transition_is_taken_once_by_campaign_control(portal):
    steps = transitions(portal)
    steps.apply("hold-key-1", PLACE)

    again = steps.apply("hold-key-1", PLACE)

    assert again.status == "delivered"
    assert len(portal.campaign_calls) == 1


def test_campaign_control_errors_are_retried_with_the_same_key(portal):
    portal.faults.campaign_fail_statuses = [503, 429]

    result = transitions(portal).apply("hold-key-1", PLACE)

    assert result.status == "delivered"
    assert [c["idempotency_key"] for c in portal.campaign_calls] == ["hold-key-1"]


def test_a_client_without_a_company_is_paused_and_reported_never_guessed(portal):
    steps = transitions(portal)

    result = steps.apply("hold-key-3", PLACE | {"client_id": 43, "client_name": "C43"})

    assert result.status == "delivered"
    assert portal.holds() == {"43": "place"}
    assert steps.problems == [
        "client 43: no HubSpot company with netsuite_customer_id 43; ar_campaign_hold not set"]
    assert hold_property(portal) is None and hold_property(portal, "42") is None


def test_hubspot_down_fails_the_transition_so_it_is_retried_whole(portal):
    steps = transitions(portal)
    portal.faults.down = True

    result = steps.apply("hold-key-1", PLACE)

    assert result.status == "failed"
    assert "503" in result.reason
    portal.faults.down = False
    assert steps.apply("hold-key-1", PLACE).status == "delivered"
    assert len(portal.campaign_calls) == 1
    assert hold_property(portal) == "2026-06-16: tier 3: third offence"
