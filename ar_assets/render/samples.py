"""Sample plans for previews and render tests, with the figures of the reported cases.

Amounts follow shared/cases/README.md (H03, H05, H06, H16) on as_of 2026-06-16.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from ar_assets.plan.messages import (
    ClientEmailPlan,
    CurrencySummary,
    InvoiceDoc,
    InvoiceLine,
    message_key,
)

AS_OF = date(2026, 6, 16)


def _invoice(
    invoice_id: int,
    tranid: str,
    currency: str,
    due: date,
    total: str,
    *,
    paid: str = "0",
    credits: str = "0",
    lines: tuple[InvoiceLine, ...] = (),
) -> InvoiceDoc:
    remaining = D(total) - D(paid) - D(credits)
    return InvoiceDoc(
        invoice_id=invoice_id,
        tranid=tranid,
        currency=currency,
        tran_date=date(due.year, due.month, 1) if due.day > 1 else due,
        due_date=due,
        dpd=(AS_OF - due).days,
        total=D(total),
        amount_paid=D(paid),
        credits_applied=D(credits),
        remaining=remaining,
        lines=lines or (InvoiceLine("SVC-100", "Services", D("1"), D(total), D(total)),),
    )


def _plan(
    client_id: int,
    client_name: str,
    language: str,
    tier: int,
    invoices: tuple[InvoiceDoc, ...],
    currencies: tuple[CurrencySummary, ...],
) -> ClientEmailPlan:
    return ClientEmailPlan(
        message_key=message_key("client_overdue", client_id, AS_OF),
        as_of=AS_OF,
        client_id=client_id,
        client_name=client_name,
        language=language,
        tier=tier,
        to=(f"ap@c{client_id}.test",),
        cc=("am.sato@ar-demo.example",),
        invoices=invoices,
        currencies=currencies,
        am_name="Yuki Sato",
        is_campaign_hold=tier == 3,
    )


def h03_usd_plan() -> ClientEmailPlan:
    """C04: 12,000.00 USD remaining, 40 dpd; its EUR base amount is never shown."""
    inv = _invoice(401, "INV-401", "USD", date(2026, 5, 7), "12000.00")
    summary = CurrencySummary("USD", D("12000.00"), D("0"), D("12000.00"))
    return _plan(4, "Northwind Traders Inc.", "en", 1, (inv,), (summary,))


def h05_yen_plan() -> ClientEmailPlan:
    """C06: ¥10,000 credit on INV-601 (oldest due), subtotal ¥121,233."""
    invoices = (
        _invoice(601, "INV-601", "JPY", date(2026, 5, 7), "123456", credits="10000"),
        _invoice(602, "INV-602", "JPY", date(2026, 5, 12), "7777"),
    )
    summary = CurrencySummary("JPY", D("121233"), D("10000"), D("121233"))
    return _plan(6, "株式会社みなと物産", "ja", 1, invoices, (summary,))


def h06_decimal_plan() -> ClientEmailPlan:
    """C09: the 0.30 credit lands on INV-901 (same due date, lowest number)."""
    invoices = (
        _invoice(901, "INV-901", "EUR", date(2026, 5, 1), "39981.70", credits="0.30"),
        _invoice(902, "INV-902", "EUR", date(2026, 5, 1), "0.10"),
        _invoice(903, "INV-903", "EUR", date(2026, 5, 1), "0.20"),
    )
    summary = CurrencySummary("EUR", D("39981.70"), D("0.30"), D("39981.70"))
    return _plan(9, "Brightwater Logistics GmbH", "en", 2, invoices, (summary,))


def h16_japanese_plan() -> ClientEmailPlan:
    """C27: a Japanese client and line item in a Japanese PDF."""
    line = InvoiceLine("MNT-06", "保守サービス（6月分）", D("1"), D("88000"), D("88000"))
    inv = _invoice(2701, "INV-2701", "JPY", date(2026, 5, 10), "88000", lines=(line,))
    summary = CurrencySummary("JPY", D("88000"), D("0"), D("88000"))
    return _plan(27, "株式会社青葉商事", "ja", 1, (inv,), (summary,))


def kwd_plan() -> ClientEmailPlan:
    """Kuwaiti dinar: three minor digits, a partial payment."""
    line = InvoiceLine("CONS-1", "Consulting, May", D("2.5"), D("1000.050"), D("2500.125"))
    inv = _invoice(
        701, "INV-701", "KWD", date(2026, 5, 4), "2500.125", paid="1000.000", lines=(line,)
    )
    summary = CurrencySummary("KWD", D("1500.125"), D("0"), D("1500.125"))
    return _plan(7, "Gulf Horizon Trading Co.", "en", 3, (inv,), (summary,))


def multi_currency_plan() -> ClientEmailPlan:
    """C05: USD, EUR and JPY listed side by side, never added together."""
    invoices = (
        _invoice(501, "INV-501", "USD", date(2026, 5, 1), "1000.00"),
        _invoice(502, "INV-502", "EUR", date(2026, 5, 2), "900.00"),
        _invoice(503, "INV-503", "JPY", date(2026, 5, 3), "150000"),
    )
    summaries = (
        CurrencySummary("USD", D("1000.00"), D("0"), D("1000.00")),
        CurrencySummary("EUR", D("900.00"), D("0"), D("900.00")),
        CurrencySummary("JPY", D("150000"), D("0"), D("150000")),
    )
    return _plan(5, "Contoso Pacific Ltd.", "en", 3, invoices, summaries)


def all_sample_plans() -> dict[str, ClientEmailPlan]:
    return {
        "h03_usd": h03_usd_plan(),
        "h05_yen": h05_yen_plan(),
        "h06_decimal": h06_decimal_plan(),
        "h16_japanese": h16_japanese_plan(),
        "kwd": kwd_plan(),
        "multi_currency": multi_currency_plan(),
    }
