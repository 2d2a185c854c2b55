"""H10, HubSpot part: the day's send step runs three times on 2026-06-16; C17 (last emailed
2026-06-02) gets one email and HubSpot holds exactly one activity for it, stamped with the
email's delivery time; C16 (last emailed 2026-06-03) gets neither.

The real daily job runs against the loopback NetSuite, HubSpot and Chat servers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ar_assets.deliver.protocol import epoch_millis
from ar_assets.sandbox.chat_server import serve_delivery_sandboxes
from ar_assets.sandbox.session import SandboxSession
from tests.builders import LedgerBuilder
from tests.conftest import CaseRun

AS_OF = date(2026, 6, 16)


@pytest.fixture(scope="module")
def h10(tmp_path_factory):
    b = LedgerBuilder()
    for name in ("C16", "C17"):
        b.client(name, "EUR")
        b.invoice(name, f"INV-{name[1:]}01", "420.00", date(2026, 4, 1))
    source = b.build()
    workdir = Path(tmp_path_factory.mktemp("h10"))
    with serve_delivery_sandboxes(source) as servers, \
            SandboxSession.start(source, workdir) as session:
        case = CaseRun(session)
        case.record_prior_email(16, date(2026, 6, 3))
        case.record_prior_email(17, date(2026, 6, 2))
        for _ in range(3):
            case.run(AS_OF)
        yield case, servers.hubspot


def on_company(hubspot, netsuite_id: str) -> list[dict]:
    return [e for e in hubspot.activities("emails")
            if e["associations"]["companies"] == hubspot.company_ids(netsuite_id)]


def test_h10_c17_has_one_email_and_one_hubspot_activity_across_three_runs(h10):
    case, hubspot = h10

    [email] = case.emails()
    [activity] = on_company(hubspot, "17")
    [delivered] = [r for r in case.ledger(client_id=17, kind="client_overdue", as_of=AS_OF)
                   if r["status"] == "delivered"]

    assert email["To"] == "ap@c17.test"
    assert activity["properties"]["hs_email_subject"] == str(email["Subject"])
    assert activity["properties"]["hs_timestamp"] == str(epoch_millis(delivered["delivered_at"]))
    rows = [r for r in case.ledger(client_id=17, channel="hubspot") if r["status"] == "delivered"]
    assert [r["external_id"] for r in rows] == [activity["id"]]


def test_h10_c16_gets_no_email_and_no_activity_before_it_is_eligible(h10):
    case, hubspot = h10

    [today] = case.ledger(client_id=16, kind="client_overdue", as_of=AS_OF)

    assert today["status"] == "skipped" and today["reason"].startswith("cadence")
    assert on_company(hubspot, "16") == []


def test_h10_the_second_and_third_runs_create_nothing_in_hubspot(h10):
    _, hubspot = h10

    creates = [r for r in hubspot.requests if r.path.endswith("/batch/create")]

    assert [(r.path.split("/")[4], r.objects, r.status) for r in creates] == [
        ("emails", 1, 201)]
