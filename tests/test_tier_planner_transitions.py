"""Tier transitions as the planner decides them, from facts alone: a campaign hold is lifted
when the client has paid everything (nothing open is left at all), and the collections
escalation follows the tier-2 email, not the AM alert's own 14-day rhythm, once per
episode."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ar_assets.plan.planning import DayFacts, plan_day
from ar_assets.policy import Policy

AS_OF = date(2026, 6, 16)


def client(cid: int, tier: int, **changes) -> dict:
    return {"client_id": cid, "client_name": f"C{cid} Trading", "tier": tier,
            "is_excluded": False, "is_cadence_eligible": True, "am_id": 900,
            "am_email": "am.one@ar-demo.example", "am_name": "Aiko Manager",
            "language_code": "en", "is_balance_resolved": False} | changes


def overdue_invoice(cid: int) -> dict:
    return {"invoice_id": cid * 10, "tranid": f"INV-{cid}", "client_id": cid,
            "currency_code": "EUR", "trandate": date(2026, 3, 1), "due_date": date(2026, 4, 1),
            "dpd": 76, "total_amount": Decimal("500.00"), "amount_paid": Decimal("0"),
            "credits_applied": Decimal("0"), "remaining_amount": Decimal("500.00"),
            "is_overdue": True}


def balance(cid: int) -> dict:
    return {"client_id": cid, "currency_code": "EUR", "net_balance": Decimal("500.00"),
            "credits_applied": Decimal("0"), "open_balance": Decimal("500.00")}


def facts(clients, invoices=(), balances=(), delivered=None, holds=None) -> DayFacts:
    recipients = [{"client_id": c["client_id"], "email": f"ap@c{c['client_id']}.test"}
                  for c in clients]
    return DayFacts(as_of=AS_OF, clients=list(clients), balances=list(balances),
                    open_invoices=list(invoices), recipients=recipients, invoice_lines=[],
                    predue=[], delivered=delivered or {}, active_holds=holds or {})


def planned(messages, kind: str) -> list:
    return [m for m in messages if m.entry.kind == kind and m.entry.status == "planned"]


def test_a_client_that_paid_everything_has_its_hold_lifted_and_its_am_told():
    paid = client(43, 0, is_balance_resolved=True)

    messages = plan_day(facts([paid], holds={43: "hold-key-43"}), Policy())

    lifted = planned(messages, "hold_lifted")
    assert [(m.entry.channel, m.entry.client_id) for m in lifted] == [
        ("campaign", 43), ("chat", 43)]
    assert lifted[1].payload.space == "am-900"


def test_collections_follows_the_tier_2_email_not_the_am_alert_rhythm():
    email_day = AS_OF - timedelta(days=14)
    history = {(42, "client_overdue"): [email_day], (42, "client_overdue_tier2"): [email_day],
               (42, "am_overdue"): [AS_OF - timedelta(days=3)]}
    tier2 = client(42, 2, is_cadence_eligible=True)

    messages = plan_day(facts([tier2], [overdue_invoice(42)], [balance(42)], history),
                        Policy())

    assert len(planned(messages, "collections")) == 1
    assert planned(messages, "am_overdue") == []


def test_collections_is_not_planned_again_once_delivered_in_the_episode():
    email_day = AS_OF - timedelta(days=16)
    history = {(42, "client_overdue"): [email_day], (42, "client_overdue_tier2"): [email_day],
               (42, "collections"): [AS_OF - timedelta(days=2)]}

    messages = plan_day(facts([client(42, 2)], [overdue_invoice(42)], [balance(42)],
                              history), Policy())

    assert planned(messages, "collections") == []


def test_a_tier_3_client_without_a_hold_gets_one_placed_and_three_spaces_told():
    messages = plan_day(facts([client(41, 3)], [overdue_invoice(41)], [balance(41)]),
                        Policy())

    [hold] = [m for m in planned(messages, "hold_placed") if m.entry.channel == "campaign"]
    told = [m.payload.space for m in planned(messages, "hold_placed")
            if m.entry.channel == "chat"]
    assert hold.payload["action"] == "place"
    assert sorted(told) == ["am-900", "ar_team", "collections"]


def test_a_tier_3_client_with_an_active_hold_gets_no_second_one():
    messages = plan_day(facts([client(41, 3)], [overdue_invoice(41)], [balance(41)],
                              holds={41: "hold-key-41"}), Policy())

    assert planned(messages, "hold_placed") == []


def test_disputed_overdue_invoices_are_listed_to_the_am_but_kept_out_of_client_emails():
    disputed = overdue_invoice(45) | {"is_overdue": False, "is_disputed": True}
    messages = plan_day(facts([client(45, 1, has_disputed_overdue=True)], [disputed],
                              [balance(45)]), Policy())

    [skip] = [m for m in messages if m.entry.kind == "client_overdue"]
    assert (skip.entry.status, skip.entry.reason) == ("skipped", "overdue invoices are disputed")
    [alert] = planned(messages, "am_overdue")
    assert [d.tranid for d in alert.payload.invoices] == ["INV-45"]
    assert "disputed: INV-45" in alert.payload.notes
    assert alert.entry.amounts == {}


def test_a_predue_alert_shows_the_amount_open_not_overdue():
    row = overdue_invoice(46) | {"due_date": AS_OF + timedelta(days=8), "dpd": -8,
                                 "client_name": "C46 Trading", "am_id": 900, "tier": 0,
                                 "is_disputed": False}
    day = facts([client(46, 0)])
    day.predue = [row]

    [alert] = planned(plan_day(day, Policy()), "am_predue")
    [summary] = alert.payload.amounts
    assert (summary.overdue_subtotal, summary.open_balance) == (Decimal(0), Decimal("500.00"))


def test_a_client_without_an_account_manager_gives_the_ar_team_one_card_not_two():
    no_am = client(44, 3, am_id=None, am_email=None, am_name=None)

    messages = plan_day(facts([no_am], [overdue_invoice(44)], [balance(44)]), Policy())

    overdue_cards = [m.payload.space for m in messages
                     if m.entry.kind in ("am_overdue", "team_alert")]
    hold_cards = [m.payload.space for m in planned(messages, "hold_placed")
                  if m.entry.channel == "chat"]
    assert overdue_cards == ["ar_team"]
    assert sorted(hold_cards) == ["ar_team", "collections"]
    assert len({m.entry.message_key for m in messages}) == len(messages)
