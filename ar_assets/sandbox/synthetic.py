"""A deterministic synthetic source ledger for the sandbox.

`generate_ledger` builds 50 to 50,000 clients billing in USD, EUR, GBP, JPY
and KWD, with about 15 months of invoices before `as_of`: on-time, late and
chronic payers, partial payments, credit memos (some unapplied), payments on
account, disputes, excluded clients and clients without a billing address.
Every 40 clients include one of each special case, so even 50 clients give a
day's run something to skip for every reason.
"""

from __future__ import annotations

import random
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
    paused_gc,
)

CURRENCIES = [
    Currency(1, "USD", "US Dollar"),
    Currency(2, "EUR", "Euro"),
    Currency(3, "GBP", "British Pound"),
    Currency(4, "JPY", "Japanese Yen"),
    Currency(5, "KWD", "Kuwaiti Dinar"),
]
MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}
# Subsidiary base currency is EUR; rates are fixed so the ledger is reproducible.
RATE_TO_BASE = {
    "USD": Decimal("0.9150000000"),
    "EUR": Decimal("1"),
    "GBP": Decimal("1.1700000000"),
    "JPY": Decimal("0.0061000000"),
    "KWD": Decimal("2.9800000000"),
}
# Typical line rate range per currency, in minor units.
RATE_RANGE = {
    "USD": (5_000, 900_000),
    "EUR": (5_000, 800_000),
    "GBP": (5_000, 700_000),
    "JPY": (5_000, 1_200_000),
    "KWD": (15_000, 250_000),
}
CURRENCY_WEIGHTS = [40, 28, 12, 12, 8]

HISTORY_DAYS = 456  # about 15 months of invoices before as_of
FUTURE_PAYMENT_DAYS = 60  # payments dated after as_of exist, so the clock can move ahead

# Special cases, by client index modulo 40.
SLOT_HIGH_VALUE, SLOT_MANUAL_HOLD, SLOT_HOLD_FUTURE, SLOT_HOLD_PAST = 5, 6, 7, 8
SLOT_CUSTOMER_EMAIL_ONLY, SLOT_NO_ADDRESS, SLOT_NET_CREDIT = 9, 10, 11
SLOT_NO_DUE_DATE, SLOT_ON_ACCOUNT, SLOT_INACTIVE, SLOT_DISPUTE = 12, 13, 14, 15
SLOT_LATE, SLOT_CHRONIC, SLOT_ON_TIME = (16, 17, 18, 20), (19,), (21, 22, 23)

_WESTERN_STEMS = (
    "Northwind Bluebird Summit Harbor Granite Cedar Lumen Vertex Orion Maple Falcon Meridian "
    "Riverside Atlas Beacon Copper Evergreen Silverline Keystone Pioneer Redwood Sterling"
).split()
_WESTERN_TRADES = (
    "Logistics Foods Systems Retail Labs Partners Manufacturing Media Health Energy Textiles "
    "Consulting Freight Pharma Robotics"
).split()
_LEGAL_FORMS = {
    "USD": ["Inc.", "LLC", "Corp."],
    "EUR": ["GmbH", "SAS", "S.L.", "B.V.", "S.p.A."],
    "GBP": ["Ltd", "PLC"],
    "KWD": ["W.L.L.", "K.S.C.C."],
}
_JAPANESE_STEMS = "青葉 桜井 富士 大和 日向 北斗 朝日 緑川 白石 高橋 若葉 東雲".split()
_JAPANESE_TRADES = "商事 工業 物産 電機 製作所 運輸 食品 建設 システム".split()
_FIRST = "Anna Ben Clara David Elena Felix Grace Hugo Ines Jonas Lena Marco Nora Omar Paula".split()
_LAST = "Meyer Dubois Garcia Smith Rossi Novak Jensen Costa Laurent Fischer Brown Silva".split()
_JA_FIRST = "花子 太郎 健 美咲 大輔 陽菜 翔 さくら".split()
_JA_LAST = "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村".split()
_ITEMS = [
    ("SUB-STD", "Platform subscription"),
    ("SUP-PRM", "Premium support"),
    ("CONS-HR", "Consulting hours"),
    ("IMPL", "Implementation services"),
    ("LIC-SEAT", "Licence seats"),
    ("TRN-DAY", "Training day"),
]
_JA_ITEMS = [("MAINT", "保守サービス（{month}月分）"), ("SUB-STD", "クラウド利用料（{month}月分）")]
_LANGUAGES = {
    "USD": (["en", "es"], [85, 15]),
    "EUR": (["de", "fr", "es", "en"], [35, 30, 20, 15]),
    "GBP": (["en"], [100]),
    "KWD": (["en"], [100]),
}


def _company_name(rng: random.Random, currency: str) -> str:
    """Returns a company name; Japanese for JPY clients."""
    if currency == "JPY":
        stem = rng.choice(_JAPANESE_STEMS) + rng.choice(_JAPANESE_TRADES)
        return f"株式会社{stem}" if rng.random() < 0.7 else f"{stem}株式会社"
    stem = f"{rng.choice(_WESTERN_STEMS)} {rng.choice(_WESTERN_TRADES)}"
    return f"{stem} {rng.choice(_LEGAL_FORMS[currency])}"


def _domain_for(name: str, customer_id: int) -> str:
    """Returns a reserved-TLD mail domain unique to the customer."""
    slug = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())[:16]
    return f"{slug or 'kaisha'}{customer_id}.test"


def _contact_name(rng: random.Random, japanese: bool) -> tuple[str, str]:
    """Returns (first name, last name)."""
    if japanese:
        return rng.choice(_JA_FIRST), rng.choice(_JA_LAST)
    return rng.choice(_FIRST), rng.choice(_LAST)


def _item_for(rng: random.Random, currency: str, trandate: date) -> tuple[str, str]:
    """Returns (item, description) for an invoice line."""
    if currency == "JPY":
        item, text = rng.choice(_JA_ITEMS)
        return item, text.format(month=trandate.month)
    return rng.choice(_ITEMS)


def _language_for(rng: random.Random, currency: str) -> str | None:
    """Returns the client's language field: often unset, mostly unset for JPY clients."""
    if currency == "JPY":
        return "ja" if rng.random() < 0.2 else None
    if rng.random() < 0.6:
        return None
    languages, weights = _LANGUAGES[currency]
    return rng.choices(languages, weights)[0]


def _money(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])


class _Builder:
    def __init__(self, rng: random.Random, as_of: date, clients: int):
        self.rng = rng
        self.as_of = as_of
        self.ledger = SourceLedger(currencies=list(CURRENCIES))
        self.next_txn_id = 10_000_001
        self.next_contact_id = 2_000_001
        self.counters = {"INV": 0, "CM": 0, "PYT": 0}
        self.applied: dict[int, Decimal] = {}  # the current client's invoices, as of as_of
        self._add_employees(max(3, clients // 25))

    def _txn(self, prefix: str) -> tuple[int, str]:
        txn_id = self.next_txn_id
        self.next_txn_id += 1
        self.counters[prefix] += 1
        return txn_id, f"{prefix}-{self.counters[prefix]:07d}"

    def _add_employees(self, count: int) -> None:
        for n in range(count):
            first, last = _contact_name(self.rng, japanese=n % 7 == 3)
            space = f"spaces/AAAA{n:07d}" if self.rng.random() < 0.7 else None
            email = f"am{n + 1:04d}@ar-vendor.example"
            self.ledger.employees.append(Employee(100 + n, first, last, email, space))

    def add_client(self, index: int) -> None:
        rng = self.rng
        slot = index % 40
        self.applied = {}
        ccy_index = slot if slot < 5 else rng.choices(range(5), CURRENCY_WEIGHTS)[0]
        currency = CURRENCIES[ccy_index]
        code = currency.symbol
        customer_id = 1000 + index
        name = _company_name(rng, code)
        domain = _domain_for(name, customer_id)
        am = self.ledger.employees[rng.randrange(len(self.ledger.employees))]
        customer = Customer(
            id=customer_id,
            entityid=f"CUST-{customer_id}",
            companyname=name,
            email=f"info@{domain}" if rng.random() < 0.6 else None,
            currency=currency.id,
            salesrep=am.id,
            language=_language_for(rng, code),
            is_inactive=slot == SLOT_INACTIVE,
            is_high_value=slot == SLOT_HIGH_VALUE,
            manual_hold=slot == SLOT_MANUAL_HOLD,
        )
        if slot == SLOT_HOLD_FUTURE:
            customer.hold_until = self.as_of + timedelta(days=rng.randint(20, 90))
        elif slot == SLOT_HOLD_PAST:
            customer.hold_until = self.as_of - timedelta(days=rng.randint(5, 60))
        self.ledger.customers.append(customer)
        self._add_contacts(customer, slot, domain, japanese=code == "JPY")
        self._add_history(customer, code, slot)

    def _add_contacts(self, customer: Customer, slot: int, domain: str, japanese: bool) -> None:
        rng = self.rng
        if slot == SLOT_CUSTOMER_EMAIL_ONLY:
            customer.email = f"billing@{domain}"
            roles = ["Sales"]
        elif slot == SLOT_NO_ADDRESS:
            customer.email = ""
            roles = ["Sales"]
        else:
            others = rng.choices(["Sales", "Primary Contact", "Decision Maker", None], k=3)
            roles = others[: rng.randint(0, 2)]
            roles.insert(rng.randint(0, len(roles)), "Billing")
        for role in roles:
            first, last = _contact_name(rng, japanese)
            local = "ap" if role == "Billing" else f"{first[:1]}{last}".lower()
            if japanese or not local.isascii():
                local = "keiri" if role == "Billing" else f"contact{self.next_contact_id}"
            self.ledger.contacts.append(
                Contact(self.next_contact_id, customer.id, first, last, f"{local}@{domain}", role)
            )
            self.next_contact_id += 1

    def _add_history(self, customer: Customer, code: str, slot: int) -> None:
        rng = self.rng
        if slot in SLOT_LATE:
            behaviour = "late"
        elif slot in SLOT_CHRONIC or slot == SLOT_NET_CREDIT:
            behaviour = "chronic"
        elif slot in SLOT_ON_TIME:
            behaviour = "on_time"
        else:
            behaviour = rng.choices(["on_time", "late", "chronic"], [55, 40, 5])[0]
        cycle = rng.choices([30, 91, 60], [60, 28, 12])[0]
        terms = rng.choices([30, 14, 45, 60], [70, 10, 10, 10])[0]
        lo, hi = RATE_RANGE[code]
        base = rng.randint(lo, hi)
        start = self.as_of - timedelta(days=HISTORY_DAYS - rng.randrange(cycle))
        trandate = start
        invoices: list[Invoice] = []
        while trandate <= self.as_of:
            invoices.append(self._invoice(customer, code, trandate, terms, base))
            trandate += timedelta(days=cycle + rng.randint(-2, 2))
        self.ledger.invoices.extend(invoices)
        if slot == SLOT_DISPUTE:
            disputed = [i for i in invoices if i.duedate and i.duedate < self.as_of]
            if disputed:
                disputed[-1].is_disputed = True
        if slot == SLOT_NO_DUE_DATE:
            invoices[-1].duedate = None
        for invoice in invoices:
            self._settle(invoice, code, behaviour)
        if slot == SLOT_ON_ACCOUNT or rng.random() < 0.02:
            self._payment_on_account(customer, code, base)
        if slot == SLOT_NET_CREDIT:
            self._net_credit(customer, code, invoices)

    def _invoice(
        self, customer: Customer, code: str, trandate: date, terms: int, base: int
    ) -> Invoice:
        rng = self.rng
        txn_id, tranid = self._txn("INV")
        lines = []
        for _ in range(rng.choices([1, 2, 3], [60, 28, 12])[0]):
            quantity = rng.choice([1, 1, 1, 2, 3, 5, 10, 12])
            rate_minor = max(1, int(base * rng.uniform(0.2, 1.2)) // quantity)
            rate = _money(rate_minor, code)
            item, description = _item_for(rng, code, trandate)
            lines.append(Line(item, description, Decimal(quantity), rate, rate * quantity))
        total = sum((line.amount for line in lines), Decimal(0))
        return Invoice(
            id=txn_id,
            tranid=tranid,
            entity=customer.id,
            trandate=trandate,
            duedate=trandate + timedelta(days=terms),
            currency=customer.currency,
            total=total,
            lines=lines,
            exchangerate=RATE_TO_BASE[code],
            is_disputed=rng.random() < 0.012,
        )

    def _pay_date(self, invoice: Invoice, behaviour: str) -> date | None:
        """Returns when the invoice is settled in full, or None if it never is."""
        rng = self.rng
        due = invoice.duedate or invoice.trandate + timedelta(days=30)
        if invoice.is_disputed or invoice.duedate is None:
            return None
        if behaviour == "on_time" or (behaviour == "late" and rng.random() < 0.55):
            return invoice.trandate + timedelta(days=rng.randint(2, (due - invoice.trandate).days))
        if behaviour == "chronic" and rng.random() < 0.22:
            return None
        if behaviour == "late":
            days_late = rng.choices([(1, 10), (11, 30), (31, 75)], [60, 28, 12])[0]
        else:
            days_late = (15, 120)
        return due + timedelta(days=rng.randint(*days_late))

    def _settle(self, invoice: Invoice, code: str, behaviour: str) -> None:
        rng = self.rng
        unit = MINOR_UNITS[code]
        remaining = invoice.total
        pay_date = self._pay_date(invoice, behaviour)
        if rng.random() < 0.04:
            remaining -= self._credit_memo(invoice, code, pay_date)
        if pay_date is None:
            if behaviour == "chronic" and rng.random() < 0.3:
                first = (remaining * Decimal(rng.randint(20, 60)) / 100).quantize(
                    Decimal(1).scaleb(-unit)
                )
                paid_on = invoice.trandate + timedelta(days=rng.randint(20, 90))
                self._pay(invoice, paid_on, first)
            return
        if rng.random() < 0.08:
            first = (remaining * Decimal(rng.randint(30, 70)) / 100).quantize(
                Decimal(1).scaleb(-unit)
            )
            gap = max(1, (pay_date - invoice.trandate).days // 2)
            self._pay(invoice, pay_date - timedelta(days=rng.randint(1, gap)), first)
            remaining -= first
        self._pay(invoice, pay_date, remaining)

    def _record(self, application: Application) -> None:
        if application.date <= self.as_of:
            before = self.applied.get(application.invoice_id, Decimal(0))
            self.applied[application.invoice_id] = before + application.amount

    def _pay(self, invoice: Invoice, paid_on: date, amount: Decimal) -> None:
        if amount <= 0 or paid_on > self.as_of + timedelta(days=FUTURE_PAYMENT_DAYS):
            return
        paid_on = max(paid_on, invoice.trandate)
        txn_id, tranid = self._txn("PYT")
        application = Application(invoice.id, paid_on, amount)
        self._record(application)
        self.ledger.payments.append(
            Payment(txn_id, tranid, invoice.entity, paid_on, invoice.currency, amount,
                    [application])
        )

    def _credit_memo(self, invoice: Invoice, code: str, pay_date: date | None) -> Decimal:
        """Adds a credit memo on the invoice; returns the amount applied to it."""
        rng = self.rng
        unit = Decimal(1).scaleb(-MINOR_UNITS[code])
        amount = (invoice.total * Decimal(rng.randint(10, 50)) / 100).quantize(unit)
        issued = invoice.trandate + timedelta(days=rng.randint(3, 40))
        if amount <= 0 or issued > self.as_of:
            return Decimal(0)
        txn_id, tranid = self._txn("CM")
        memo = CreditMemo(txn_id, tranid, invoice.entity, issued, invoice.currency, amount)
        self.ledger.credit_memos.append(memo)
        if rng.random() < 0.4 or (pay_date is not None and pay_date < issued):
            return Decimal(0)
        application = Application(invoice.id, issued + timedelta(days=rng.randint(0, 20)), amount)
        memo.applications.append(application)
        self._record(application)
        return amount

    def _payment_on_account(self, customer: Customer, code: str, base: int) -> None:
        received = self.as_of - timedelta(days=self.rng.randint(1, 60))
        txn_id, tranid = self._txn("PYT")
        amount = _money(base, code)
        self.ledger.payments.append(
            Payment(txn_id, tranid, customer.id, received, customer.currency, amount)
        )

    def _net_credit(self, customer: Customer, code: str, invoices: list[Invoice]) -> None:
        """Adds an unapplied credit memo larger than everything the client owes."""
        owed = sum(
            (i.total - self.applied.get(i.id, Decimal(0)) for i in invoices), Decimal(0)
        )
        txn_id, tranid = self._txn("CM")
        total = owed + _money(RATE_RANGE[code][0], code)
        issued = self.as_of - timedelta(days=12)
        self.ledger.credit_memos.append(
            CreditMemo(txn_id, tranid, customer.id, issued, customer.currency, total)
        )


def generate_ledger(clients: int, as_of: date, seed: int = 7) -> SourceLedger:
    """Returns a deterministic synthetic SourceLedger of `clients` clients as of a date."""
    if not 50 <= clients <= 50_000:
        raise ValueError(f"clients must be between 50 and 50,000, got {clients}")
    builder = _Builder(random.Random(seed), as_of, clients)
    with paused_gc():
        for index in range(clients):
            builder.add_client(index)
    return builder.ledger
