"""Chat cards name the client, tier, amounts per currency and link to HubSpot, under 32,000 bytes.

Also protects digest splitting at line boundaries and the escaping of client text.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal

import pytest

from ar_assets.plan.messages import CurrencySummary, InternalAlert
from ar_assets.render import samples
from ar_assets.render.branding import load_branding
from ar_assets.render.chat import TITLES, render_chat_card, split_digest


@pytest.fixture(scope="module")
def branding():
    return load_branding()


def alert(kind: str = "am_overdue", **changes) -> InternalAlert:
    plan = samples.multi_currency_plan()
    base = InternalAlert(
        message_key="k" * 32,
        as_of=date(2026, 6, 16),
        kind=kind,
        space="am-yuki-sato",
        client_id=5,
        client_name="Contoso Pacific Ltd.",
        tier=3,
        amounts=plan.currencies,
        oldest_dpd=46,
        invoices=plan.invoices,
        hubspot_url="https://app.hubspot.com/contacts/1/company/9001",
        notes=("manual outreach",),
        thread_key="ar-5",
    )
    return dataclasses.replace(base, **changes)


def size(body: dict) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode("utf-8"))


def card_text(body: dict) -> str:
    return json.dumps(body["cardsV2"], ensure_ascii=False)


@pytest.mark.parametrize("kind", sorted(TITLES))
def test_every_kind_has_a_titled_threaded_card(branding, kind):
    body = render_chat_card(alert(kind), branding)

    card = body["cardsV2"][0]["card"]
    assert card["header"]["title"] == TITLES[kind]
    assert card["header"]["subtitle"] == "Contoso Pacific Ltd. · Tier 3"
    assert body["thread"] == {"threadKey": "ar-5"}
    assert body["text"].startswith(f"*{TITLES[kind]}*: Contoso Pacific Ltd. (tier 3)")


def test_card_names_amounts_per_currency_oldest_dpd_notes_and_link(branding):
    body = render_chat_card(alert(), branding)
    cards = card_text(body)

    for figure in ("$1,000.00", "€900.00", "¥150,000"):
        assert figure in body["text"] and figure in cards
    assert "Oldest days past due" in cards and '"46"' in cards
    assert "manual outreach" in cards
    assert "INV-501" in cards and "INV-503" in cards
    assert "<https://app.hubspot.com/contacts/1/company/9001|Open in HubSpot>" in body["text"]
    assert '"url": "https://app.hubspot.com/contacts/1/company/9001"' in cards
    assert "151,900" not in body["text"] + cards


def test_link_falls_back_to_the_branding_pattern(branding):
    body = render_chat_card(alert(hubspot_url=None), branding)
    assert "search?query=5" in card_text(body)


def test_predue_invoices_read_as_due_in_days(branding):
    plan = samples.h03_usd_plan()
    invoice = dataclasses.replace(plan.invoices[0], due_date=date(2026, 6, 26), dpd=-10)
    body = render_chat_card(
        alert("am_predue", invoices=(invoice,), amounts=(), notes=("disputed",)), branding
    )
    cards = card_text(body)
    assert "due in 10 days" in cards and "June 26, 2026" in cards and "disputed" in cards


def test_client_text_cannot_mention_everyone_or_inject_markup(branding):
    body = render_chat_card(alert(client_name="<users/all> <b>Evil</b>\nCo"), branding)
    assert "<users/all>" not in body["text"] and "<b>" not in body["text"]
    assert "<users/all>" not in card_text(body) and "<b>" not in card_text(body)
    assert "\n" not in body["cardsV2"][0]["card"]["header"]["subtitle"]


def test_ops_alert_without_client_lists_its_notes(branding):
    ops = alert(
        "ops_alert",
        client_id=None,
        client_name="",
        tier=0,
        amounts=(),
        invoices=(),
        hubspot_url=None,
        notes=("dbt test unique_fct_open_invoices_invoice_id failed", "no email sent"),
        thread_key="ops-2026-06-16",
    )
    body = render_chat_card(ops, branding)
    assert body["text"].startswith("*AR run needs attention*\n")
    assert "unique_fct_open_invoices_invoice_id" in body["text"]
    assert body["cardsV2"][0]["cardId"] == "ar-ops_alert-ops"


def test_a_huge_alert_stays_under_the_chat_limit(branding):
    invoice = samples.h03_usd_plan().invoices[0]
    invoices = tuple(
        dataclasses.replace(invoice, invoice_id=i, tranid=f"INV-{i:06d}-{'x' * 2000}")
        for i in range(3000)
    )
    amounts = tuple(
        CurrencySummary(c, Decimal("1.00"), Decimal(0), Decimal("1.00"))
        for c in ("USD", "EUR", "GBP")
    )
    body = render_chat_card(alert(invoices=invoices, amounts=amounts), branding)
    assert size(body) <= 32_000
    assert "of 3000)" in card_text(body) and "INV-000000" in card_text(body)


def test_unknown_kind_is_refused(branding):
    with pytest.raises(ValueError, match="unknown alert kind"):
        render_chat_card(alert("gossip"), branding)


def test_digest_splits_between_lines_under_the_byte_limit():
    lines = [f"C{i:04d} 株式会社テスト{i} ¥{i * 1000:,} overdue" for i in range(2000)]
    chunks = split_digest(lines, limit_bytes=4000)

    assert len(chunks) > 1
    assert all(len(chunk.encode("utf-8")) <= 4000 for chunk in chunks)
    assert "\n".join(chunks).split("\n") == lines


def test_digest_cuts_an_overlong_line_at_character_boundaries():
    line = "請" * 5000  # 15,000 bytes
    chunks = split_digest(["first", line, "last"], limit_bytes=4000)
    assert all(len(chunk.encode("utf-8")) <= 4000 for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == "first" + line + "last"


def test_digest_default_limit_is_the_chat_limit():
    lines = ["x" * 999] * 100
    assert all(len(chunk.encode()) <= 32_000 for chunk in split_digest(lines))
    assert split_digest([]) == []
