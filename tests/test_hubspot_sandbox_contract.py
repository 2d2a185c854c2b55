"""The loopback HubSpot speaks the contract our client relies on (api_contracts §2): the
429 body of a rate-limited portal, error bodies, search filter limits, bearer auth,
single and batch creates the SDK can parse, and v4 association PUTs."""

from __future__ import annotations

import httpx
import hubspot
import pytest
from hubspot.crm.objects.emails import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)

from ar_assets.sandbox.hubspot_server import HubSpotSandbox
from ar_assets.sandbox.serve import serve_app


@pytest.fixture
def portal():
    sandbox = HubSpotSandbox([("417", "Acme KK")])
    with serve_app(sandbox.app) as url:
        sandbox.url = url
        sandbox.http = httpx.Client(base_url=url,
                                    headers={"Authorization": f"Bearer {sandbox.token}"})
        yield sandbox
        sandbox.http.close()


def search(portal, filters: list[dict], **extra) -> httpx.Response:
    body = {"filterGroups": [{"filters": filters}], "limit": 10, **extra}
    return portal.http.post("/crm/v3/objects/companies/search", json=body)


def test_the_portal_limit_answers_429_with_hubspots_body(portal):
    portal.faults.requests_per_window = 2

    answers = [search(portal, []) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    body = answers[2].json()
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert {"status", "message", "correlationId"} <= set(body)


def test_a_company_is_found_by_its_netsuite_customer_id(portal):
    answer = search(portal, [{"propertyName": "netsuite_customer_id", "operator": "EQ",
                              "value": "417"}], properties=["name", "netsuite_customer_id"])

    assert answer.json()["total"] == 1
    assert answer.json()["results"][0]["properties"]["name"] == "Acme KK"
    assert "paging" not in answer.json()


def test_search_refuses_more_than_six_filters_in_a_group(portal):
    filters = [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * 7

    answer = search(portal, filters)

    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_a_wrong_token_is_refused_as_invalid_authentication(portal):
    answer = httpx.post(f"{portal.url}/crm/v3/objects/companies/search", json={},
                        headers={"Authorization": "Bearer nope"})

    assert answer.status_code == 401
    assert answer.json()["category"] == "INVALID_AUTHENTICATION"


def test_an_unknown_property_is_refused(portal):
    answer = portal.http.post("/crm/v3/objects/emails", json={
        "properties": {"hs_timestamp": "1781587800000", "mystery": "x"}})

    assert answer.status_code == 400
    assert "mystery" in answer.json()["message"]


def test_the_sdk_creates_an_email_and_links_it_with_a_v4_put(portal):
    client = hubspot.Client.create(access_token=portal.token, host=portal.url,
                                   base_url=portal.url)
    [company] = portal.company_ids("417")
    link = PublicAssociationsForObject(
        to=PublicObjectId(id=company),
        types=[AssociationSpec(association_category="HUBSPOT_DEFINED",
                               association_type_id=186)])

    created = client.crm.objects.emails.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "2026-01-20T09:00:00.000Z", "hs_email_subject": "x"},
        associations=[link]))
    other = client.crm.objects.emails.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "1781587800000"}))
    answer = portal.http.put(
        f"/crm/v4/objects/emails/{other.id}/associations/default/companies/{company}")

    assert created.properties["hs_email_subject"] == "x"
    assert answer.status_code == 200
    stored = {e["id"]: e["associations"] for e in portal.activities("emails")}
    assert stored == {created.id: {"companies": [company]}, other.id: {"companies": [company]}}


def test_a_batch_with_a_bad_input_answers_207_and_keeps_the_good_ones(portal):
    [company] = portal.company_ids("417")

    def item(key: str, to: str) -> dict:
        return {"properties": {"hs_timestamp": "1781587800000", "ar_message_key": key},
                "objectWriteTraceId": key,
                "associations": [{"to": {"id": to}, "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 186}]}]}

    answer = portal.http.post("/crm/v3/objects/emails/batch/create",
                              json={"inputs": [item("good", company), item("bad", "1")]})

    assert answer.status_code == 207
    body = answer.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["good"]
    assert body["errors"][0]["context"] == {"objectWriteTraceId": ["bad"]}
