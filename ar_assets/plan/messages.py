"""The planned messages: every amount, recipient and attachment decided.

Rendering and delivery read these and decide nothing themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class InvoiceLine:
    item: str
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InvoiceDoc:
    """One listed invoice, with its amounts in its own currency."""

    invoice_id: int
    tranid: str
    currency: str
    tran_date: date
    due_date: date
    dpd: int
    total: Decimal
    amount_paid: Decimal
    credits_applied: Decimal
    remaining: Decimal
    lines: tuple[InvoiceLine, ...] = ()


@dataclass(frozen=True)
class CurrencySummary:
    """Per-currency figures of one client email; currencies are never added."""

    currency: str
    overdue_subtotal: Decimal
    credits_applied: Decimal
    open_balance: Decimal


@dataclass(frozen=True)
class ClientEmailPlan:
    message_key: str
    as_of: date
    client_id: int
    client_name: str
    language: str
    tier: int
    to: tuple[str, ...]
    cc: tuple[str, ...]
    invoices: tuple[InvoiceDoc, ...]
    currencies: tuple[CurrencySummary, ...]
    am_name: str = ""
    is_campaign_hold: bool = False
    # The business date of the last overdue email delivered to the client, if any:
    # a firmer reminder cites it, and never claims a reminder that was not sent.
    last_reminder: date | None = None
    extra: dict = field(default_factory=dict)


def message_key(*parts: object) -> str:
    """Deterministic key of a planned message: same facts, same key."""
    text = "|".join(str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class InternalAlert:
    """A Google Chat alert to an AM, the AR team, collections or ops.

    `kind` is one of am_predue, am_overdue, team_alert, collections,
    hold_placed, hold_lifted, ops_alert. `space` names the routing target
    (an AM's space, "ar_team", "collections" or "ops"), never a URL.
    """

    message_key: str
    as_of: date
    kind: str
    space: str
    client_id: int | None
    client_name: str
    tier: int
    amounts: tuple[CurrencySummary, ...] = ()
    oldest_dpd: int | None = None
    invoices: tuple[InvoiceDoc, ...] = ()
    hubspot_url: str | None = None
    notes: tuple[str, ...] = ()
    thread_key: str = ""
