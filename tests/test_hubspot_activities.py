"""HubSpot activities are logged exactly once on the right company, whatever HubSpot does:
a lost answer is found by our message key instead of created twice, an outage leaves the
rows to retry, and a client with no or several companies is reported, never guessed.

Real hubspot-api-client calls against the loopback HubSpot; the ledger is a DuckDB file."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import duckdb
import pytest

from ar_assets.deliver.hubspot.activities import (
    email_activity,
    log_activities,
    note_activity,
)
from ar_assets.deliver.hubspot.settings import HubSpotResource
from ar_assets.ledger import LedgerEntry, ensure_ledger, record_plan
from ar_assets.sandbox.hubspot_server import HubSpotSandbox
from ar_assets.sandbox.serve import serve_app
from tests.test_h15_hubspot_rate_limits import client_email

AS_OF = date(2026, 6, 16)
AT = datetime(2026, 6, 16, 4, 0)


@pytest.fixture
def portal():
    sandbox = HubSpotSandbox([(str(cid), f"C{cid} Trading") for cid in (1, 2, 3, 4)])
    sandbox.add_company("4", "C4 Trading (duplicate record)")
    with serve_app(sandbox.app) as url:
        sandbox.url = url
        yield sandbox


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "ar.duckdb")) as connection:
        ensure_ledger(connection)
        yield connection


def crm_for(portal, **settings):
    options = dict(host=portal.url, access_token=portal.token, mode="api",
                   backoff_seconds=0.01, rate_limit_backoff_seconds=0.01, max_attempts=3)
    return HubSpotResource(**(options | settings)).crm()


def planned(con, client_ids) -> list:
    activities = [email_activity(f"act-{cid}", f"email-{cid}", cid, AT, client_email(cid))
                  for cid in client_ids]
    record_plan(con, [LedgerEntry(a.message_key, AS_OF, "hubspot", "activity", a.client_id,
                                  "planned") for a in activities])
    return activities


def statuses(con) -> dict[str, str]:
    return dict(con.execute("select message_key, status from ops.ledger").fetchall())


def keys_in_hubspot(portal) -> Counter:
    return Counter(e["properties"]["ar_message_key"] for e in portal.activities("emails"))


def test_an_email_activity_carries_subject_text_recipients_and_the_key(portal, con):
    activities = planned(con, [1])

    log_activities(con, crm_for(portal), activities)

    [email] = portal.activities("emails")
    props = email["properties"]
    assert props["hs_email_subject"] == "Overdue invoices for C1 Trading"
    assert "INV-1 is 40 days overdue" in props["hs_email_text"]
    assert '"to": [{"email": "ap@c1.test"}]' in props["hs_email_headers"]
    assert '"cc": [{"email": "am.one@ar-demo.example"}]' in props["hs_email_headers"]
    assert (props["hs_email_direction"], props["hs_email_status"]) == ("EMAIL", "SENT")
    assert props["ar_message_key"] == "act-1"
    assert email["associations"] == {"companies": portal.company_ids("1")}


def test_running_again_logs_nothing_and_calls_nothing(portal, con):
    activities = planned(con, [1, 2, 3])
    log_activities(con, crm_for(portal), activities)
    crm = crm_for(portal)

    report = log_activities(con, crm, activities)

    assert sum(crm.calls.values()) == 0
    assert not report.outcomes
    assert set(keys_in_hubspot(portal).values()) == {1} and len(keys_in_hubspot(portal)) == 3


def test_a_lost_answer_is_found_by_its_key_and_not_created_twice(portal, con):
    activities = planned(con, [1, 2, 3])
    portal.faults.commit_then_fail = 1

    first = log_activities(con, crm_for(portal), activities)
    assert first.outcomes["unknown"] == 3
    assert set(statuses(con).values()) == {"unknown"}

    crm = crm_for(portal)
    second = log_activities(con, crm, activities)

    assert second.outcomes["found_logged"] == 3
    assert crm.calls["emails.batch"] == 0
    assert keys_in_hubspot(portal) == {"act-1": 1, "act-2": 1, "act-3": 1}
    assert set(statuses(con).values()) == {"delivered"}


def test_an_unknown_outcome_is_created_again_only_once_it_has_been_searchable(portal, con):
    activities = planned(con, [1, 2])
    crm = crm_for(portal)
    crm.find_companies(["1", "2"])  # cached for the run, so the next call is the create
    portal.faults.fail_statuses = [503]
    log_activities(con, crm, activities)
    assert set(statuses(con).values()) == {"unknown"}

    soon = log_activities(con, crm_for(portal), activities)
    assert soon.outcomes["unknown"] == 2 and not portal.activities("emails")

    con.execute("update ops.ledger set sending_at = sending_at - interval 11 minute")
    later = log_activities(con, crm_for(portal), activities)

    assert later.outcomes["delivered"] == 2
    assert keys_in_hubspot(portal) == {"act-1": 1, "act-2": 1}


def test_an_outage_leaves_the_rows_to_retry_and_the_retry_logs_each_once(portal, con):
    activities = planned(con, [1, 2, 3])
    portal.faults.down = True

    failed = log_activities(con, crm_for(portal), activities)

    assert failed.unavailable and "503" in failed.unavailable
    assert set(statuses(con).values()) == {"planned"}
    portal.faults.down = False
    retried = log_activities(con, crm_for(portal), activities)
    assert retried.outcomes["delivered"] == 3
    assert len(keys_in_hubspot(portal)) == 3


def test_a_failed_attempt_is_searched_before_it_is_created_again(portal, con):
    activities = planned(con, [1])
    con.execute("update ops.ledger set status = 'failed', attempts = 1")
    crm = crm_for(portal)

    log_activities(con, crm, activities)

    assert crm.calls["emails.search"] == 1 and crm.calls["emails.batch"] == 1
    assert keys_in_hubspot(portal) == {"act-1": 1}


def test_no_company_or_several_companies_are_reported_and_never_guessed(portal, con):
    activities = planned(con, [1, 4, 5])

    report = log_activities(con, crm_for(portal), activities)

    assert keys_in_hubspot(portal) == {"act-1": 1}
    state = statuses(con)
    assert (state["act-1"], state["act-4"], state["act-5"]) == ("delivered", "failed", "failed")
    assert sorted(report.problems) == [
        f"2 HubSpot companies ({', '.join(portal.company_ids('4'))}) with "
        "netsuite_customer_id 4; none chosen",
        "no HubSpot company with netsuite_customer_id 5",
    ]


def test_company_lookups_are_batched_and_cached_for_the_run(portal):
    crm = crm_for(portal)

    first = crm.find_companies(["1", "2", "3", "4", "5"])
    again = crm.find_companies(["2", "3"])

    assert crm.calls["companies.search"] == 1
    assert first["5"] == [] and len(first["4"]) == 2
    assert again == {"2": portal.company_ids("2"), "3": portal.company_ids("3")}


def test_a_hold_note_is_associated_with_its_company_by_type_190(portal, con):
    note = note_activity("note-1", "hold-1", "hold_placed", 1, AT, "2026-06-16", 3,
                         {"EUR": "675.50", "USD": "1000.00"})
    record_plan(con, [LedgerEntry("note-1", AS_OF, "hubspot", "activity", 1, "planned")])

    log_activities(con, crm_for(portal), [note])

    [stored] = portal.activities("notes")
    assert stored["associations"] == {"companies": portal.company_ids("1")}
    body = stored["properties"]["hs_note_body"]
    assert "Campaign hold placed on 2026-06-16" in body
    assert "EUR 675.50, USD 1000.00" in body
    batch = [r for r in portal.requests if r.path.endswith("/notes/batch/create")]
    assert [r.status for r in batch] == [201]


def test_the_access_token_is_required_and_checked(portal, con):
    activities = planned(con, [1])

    report = log_activities(con, crm_for(portal, access_token="pat-wrong"), activities)

    assert "401" in report.unavailable
    assert [r.status for r in portal.requests] == [401]
    assert statuses(con)["act-1"] == "planned"
    assert not portal.activities("emails")
