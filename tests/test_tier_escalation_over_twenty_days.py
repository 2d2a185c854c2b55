"""Twenty consecutive daily runs, 2026-06-16 to 2026-07-05, through the real definitions
with HubSpot, Google Chat and campaign control on loopback (AR_SANDBOX_SERVERS=1):

- C41, unpaid at tier 3: one campaign hold, one collections escalation, a client email
  every 14 days and never in between;
- C42, unpaid at tier 2: one collections escalation, 14 days after its tier-2 email;
- C43, tier 3 until a credit memo on 2026-06-20 covers everything: the hold is lifted
  once (AM told) and its tier is recomputed to 0;
- C44, tier 2 until an unapplied payment on 2026-06-22 covers everything: tier 0.

Every message and activity is counted where it landed: the email outbox, the Chat
spaces, HubSpot's records and campaign control's calls."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ar_assets.sandbox.chat_server import serve_delivery_sandboxes
from ar_assets.sandbox.ledger import Payment
from ar_assets.sandbox.session import SandboxSession
from tests.builders import CURRENCIES, LedgerBuilder
from tests.conftest import CaseRun
from tests.readers import body_text

FIRST = date(2026, 6, 16)
DAYS = [FIRST + timedelta(days=n) for n in range(20)]
AM_SPACE = "spaces/AM900"


def ledger():
    b = LedgerBuilder()
    b.ledger.employees[0].gchat_space = AM_SPACE
    for name in ("C41", "C43"):
        b.client(name, "EUR")
        for n, due in enumerate((date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1))):
            b.invoice(name, f"INV-{name[1:]}0{n}", "1000.00", due)
    for name in ("C42", "C44"):
        b.client(name, "EUR")
        for n, due in enumerate((date(2026, 4, 1), date(2026, 5, 1))):
            b.invoice(name, f"INV-{name[1:]}0{n}", "500.00", due)
    b.credit("C43", "CM-4301", "3000.00", trandate=date(2026, 6, 20))
    b.ledger.payments.append(Payment(9_044, "PYT-4401", 44, date(2026, 6, 22),
                                     CURRENCIES["EUR"], Decimal("1000.00"), []))
    return b.build()


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    source = ledger()
    workdir = Path(tmp_path_factory.mktemp("twenty_days"))
    with serve_delivery_sandboxes(source) as servers, \
            SandboxSession.start(source, workdir) as session:
        case = CaseRun(session)
        tiers = {}
        for as_of in DAYS:
            case.run(as_of)
            tiers[as_of] = dict(case.query("select client_id, tier from marts.fct_client_status"))
        yield case, servers, tiers


def emails_by_client(case) -> dict[int, list[str]]:
    sent: dict[int, list[str]] = {}
    for row in case.ledger(kind="client_overdue", status="delivered"):
        sent.setdefault(row["client_id"], []).append(row["as_of"].isoformat())
    return sent


def chat_alerts(servers, space: str, client_id: int) -> list[str]:
    return [p.body["thread"]["threadKey"] for p in servers.chat.messages(space)
            if p.body.get("thread", {}).get("threadKey") == f"ar-{client_id}"]


def test_client_emails_go_out_every_14_days_and_never_in_between(days):
    case, _, _ = days

    sent = emails_by_client(case)

    assert sent[41] == ["2026-06-16", "2026-06-30"]
    assert sent[42] == ["2026-06-16", "2026-06-30"]
    assert sent[43] == ["2026-06-16"]
    assert sent[44] == ["2026-06-16"]
    assert len(list(Path(case.session.outbox_dir, "email").rglob("*.eml"))) == 6


def test_a_firmer_reminder_cites_the_last_one_and_never_one_that_was_not_sent(days):
    case, _, _ = days

    def bodies(client: str) -> list[str]:
        return [body_text(m) for m in case.emails() if m["To"] == f"ap@{client}.test"]

    tier2_first, tier2_second = bodies("c42")
    tier3_first, tier3_second = bodies("c41")

    assert "We wrote to you" not in tier2_first
    assert "We wrote to you on June 16, 2026 about the invoices below" in tier2_second
    assert "Despite our reminder" not in tier3_first
    assert "Despite our reminder of June 16, 2026, the invoices below" in tier3_second


def test_the_unpaid_tier_3_client_gets_exactly_one_hold(days):
    case, servers, tiers = days

    holds = [r for r in case.ledger(kind="hold_placed", client_id=41)
             if r["channel"] == "campaign"]

    assert [(r["as_of"], r["status"]) for r in holds] == [(FIRST, "delivered")]
    assert [c["action"] for c in servers.hubspot.campaign_calls
            if c["netsuite_customer_id"] == "41"] == ["place"]
    [company] = servers.hubspot.company_ids("41")
    hold = servers.hubspot.objects["companies"][company]["properties"]["ar_campaign_hold"]
    assert hold == "2026-06-16: tier 3: third offence"
    assert {tiers[d][41] for d in DAYS} == {3}


def test_the_unpaid_tier_3_client_is_escalated_to_collections_once(days):
    _, servers, _ = days

    collections = chat_alerts(servers, "COLLECTIONS", 41)
    am = servers.chat.messages(AM_SPACE)

    assert collections == ["ar-41"]
    hold_cards = [p for p in am if p.body.get("cardsV2")
                  and p.body["cardsV2"][0]["cardId"] == "ar-hold_placed-41"]
    assert len(hold_cards) == 1


def test_the_tier_2_client_is_escalated_once_14_days_after_its_tier_2_email(days):
    case, servers, _ = days

    rows = case.ledger(kind="collections", client_id=42)

    assert [(r["as_of"], r["status"]) for r in rows] == [(date(2026, 6, 30), "delivered")]
    assert chat_alerts(servers, "COLLECTIONS", 42) == ["ar-42"]
    notes = [n["properties"]["hs_note_body"] for n in servers.hubspot.activities("notes")
             if n["associations"]["companies"] == servers.hubspot.company_ids("42")]
    assert len(notes) == 1 and "Escalated to collections on 2026-06-30" in notes[0]


def test_a_credit_memo_that_resolves_the_balance_lifts_the_hold_once(days):
    case, servers, tiers = days

    lifted = [r for r in case.ledger(kind="hold_lifted", client_id=43)
              if r["channel"] == "campaign"]
    told = [r for r in case.ledger(kind="hold_lifted", client_id=43) if r["channel"] == "chat"]

    assert [(r["as_of"], r["status"]) for r in lifted] == [(date(2026, 6, 20), "delivered")]
    assert [(r["as_of"], r["status"]) for r in told] == [(date(2026, 6, 20), "delivered")]
    assert [c["action"] for c in servers.hubspot.campaign_calls
            if c["netsuite_customer_id"] == "43"] == ["place", "lift"]
    [company] = servers.hubspot.company_ids("43")
    assert servers.hubspot.objects["companies"][company]["properties"]["ar_campaign_hold"] == ""
    assert [p.body["cardsV2"][0]["cardId"] for p in servers.chat.messages(AM_SPACE)
            if p.body.get("cardsV2")].count("ar-hold_lifted-43") == 1


def test_a_tier_that_falls_after_credits_or_payments_is_recomputed(days):
    _, _, tiers = days

    assert [tiers[d][43] for d in DAYS[:6]] == [3, 3, 3, 3, 0, 0]
    assert [tiers[d][44] for d in DAYS[:8]] == [2, 2, 2, 2, 2, 2, 0, 0]
    assert {tiers[d][43] for d in DAYS[4:]} == {0}
    assert {tiers[d][44] for d in DAYS[6:]} == {0}


def test_hubspot_holds_each_activity_once_on_its_own_company(days):
    case, servers, _ = days
    hubspot = servers.hubspot

    emails = hubspot.activities("emails")
    notes = hubspot.activities("notes")

    per_company = Counter(e["associations"]["companies"][0] for e in emails)
    assert per_company == {hubspot.company_ids("41")[0]: 2, hubspot.company_ids("42")[0]: 2,
                           hubspot.company_ids("43")[0]: 1, hubspot.company_ids("44")[0]: 1}
    assert len({e["properties"]["ar_message_key"] for e in emails + notes}) == 10
    assert len(notes) == 4
    activity_rows = [r for r in case.ledger(channel="hubspot") if r["status"] == "delivered"]
    assert len(activity_rows) == 10


def test_each_client_is_linked_to_its_one_hubspot_company(days):
    case, servers, _ = days

    links = case.query("select netsuite_customer_id, hubspot_company_id, match_count "
                       "from ops.hubspot_companies order by 1")

    assert links == [(str(cid), servers.hubspot.company_ids(str(cid))[0], 1)
                     for cid in (41, 42, 43, 44)]


def test_no_chat_space_got_more_than_one_message_a_second(days):
    _, servers, _ = days

    assert servers.chat.busiest_second() == 1
    assert not [p for p in servers.chat.posts if p.status != 200]


def test_hubspot_calls_per_logged_activity_stay_near_the_batch_floor(days):
    _, servers, _ = days
    requests = servers.hubspot.requests
    creates = [r for r in requests if r.path.endswith("/batch/create")]

    searches = [r for r in requests if r.path.endswith("/companies/search")]
    updates = [r for r in requests if r.method == "PATCH"]

    activities = sum(r.objects for r in creates if r.status == 201)

    assert activities == 10
    assert not [r for r in requests if r.status >= 400]
    # One company search at most per batch create, one property update per hold
    # transition (C41 placed, C43 placed and lifted), and nothing else.
    assert len(searches) <= len(creates)
    assert len(updates) == 3
    assert len(requests) == len(searches) + len(creates) + len(updates)
