"""A small language for writing a case's source ledger the way the case reads."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ar_assets.sandbox.ledger import (
    Application,
    Contact,
    CreditMemo,
    Currency,
    Customer,
    Employee,
    Invoice,
    Line,
    Payment,
    SourceLedger,
)

CURRENCIES = {"USD": 1, "EUR": 2, "GBP": 3, "JPY": 4, "KWD": 5}
AM_EMAIL = "am.one@ar-demo.example"


class LedgerBuilder:
    """Builds a SourceLedger one client and one document at a time."""

    def __init__(self) -> None:
        self.ledger = SourceLedger(
            currencies=[Currency(i, code, code) for code, i in CURRENCIES.items()],
            employees=[Employee(900, "Aiko", "Manager", AM_EMAIL, None)],
        )
        self._next = 1000
        self._clients: dict[str, int] = {}
        self._currency: dict[int, str] = {}

    def _id(self) -> int:
        self._next += 1
        return self._next

    def client(
        self,
        name: str,
        currency: str = "EUR",
        *,
        language: str | None = None,
        email: str | None = None,
        billing: str | None = "default",
        contacts: list[tuple[str, str | None]] | None = None,
        high_value: bool = False,
        companyname: str | None = None,
    ) -> int:
        """Adds a client; by default with one billing contact ap@<name>.test."""
        cid = int(name.lstrip("C")) if name.lstrip("C").isdigit() else self._id()
        self._clients[name] = cid
        self._currency[cid] = currency
        self.ledger.customers.append(
            Customer(
                id=cid,
                entityid=name,
                companyname=companyname or f"{name} Trading",
                email=email,
                currency=CURRENCIES[currency],
                salesrep=900,
                language=language,
                is_high_value=high_value,
            )
        )
        if contacts is None and billing == "default":
            contacts = [(f"ap@{name.lower()}.test", "Billing")]
        for address, role in contacts or []:
            self.ledger.contacts.append(
                Contact(self._id(), cid, "Accounts", "Payable", address, role)
            )
        return cid

    def invoice(
        self,
        client: str,
        tranid: str,
        total: str,
        due: date | None,
        *,
        currency: str | None = None,
        paid: str = "0",
        paid_on: date | None = None,
        disputed: bool = False,
        trandate: date | None = None,
        exchangerate: str = "1",
        lines: list[tuple[str, str, str, str]] | None = None,
    ) -> int:
        """Adds an invoice; `paid` is applied by one payment on `paid_on`."""
        cid = self._clients[client]
        cur = currency or self._currency[cid]
        inv_id = self._id()
        trandate = trandate or ((due or date(2026, 1, 1)) - timedelta(days=30))
        amount = Decimal(total)
        line_objs = [
            Line(item, desc, Decimal(qty), Decimal(rate), Decimal(qty) * Decimal(rate))
            for item, desc, qty, rate in (lines or [("SERVICE", f"Services {tranid}", "1", total)])
        ]
        self.ledger.invoices.append(
            Invoice(inv_id, tranid, cid, trandate, due, CURRENCIES[cur], amount, line_objs,
                    Decimal(exchangerate), disputed)
        )
        if Decimal(paid) > 0:
            when = paid_on or trandate + timedelta(days=1)
            self.ledger.payments.append(
                Payment(self._id(), f"PYT-{tranid}", cid, when, CURRENCIES[cur], Decimal(paid),
                        [Application(inv_id, when, Decimal(paid))])
            )
        return inv_id

    def credit(
        self, client: str, tranid: str, amount: str, *, currency: str | None = None,
        trandate: date = date(2026, 5, 1),
    ) -> int:
        """Adds an unapplied credit memo."""
        cid = self._clients[client]
        cur = currency or self._currency[cid]
        memo_id = self._id()
        self.ledger.credit_memos.append(
            CreditMemo(memo_id, tranid, cid, trandate, CURRENCIES[cur], Decimal(amount), [])
        )
        return memo_id

    def build(self) -> SourceLedger:
        return self.ledger
