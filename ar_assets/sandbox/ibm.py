"""IBM's public accounts-receivable late-payment history, replayed as a SourceLedger.

Mapping (SPEC section 5): each customerID is a client whose entityid is the
customerID; every invoice is in USD, exists from InvoiceDate, and is paid in
full on SettledDate by one payment dated SettledDate; Disputed = Yes marks the
invoice disputed; each countryCode is a sales territory with its own AM; each
client gets one billing contact on example.com.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from ar_assets.policy import PROJECT_ROOT
from ar_assets.sandbox.ledger import (
    Application,
    Contact,
    Currency,
    Customer,
    Employee,
    Invoice,
    Line,
    Payment,
    SourceLedger,
)

DEFAULT_IBM_PATH = PROJECT_ROOT / "data" / "ibm-ar-late-payment-histories.csv"
USD = Currency(1, "USD", "US Dollar")

# Id ranges: clients and AMs are numbered in sorted order of their codes, so the
# ids are stable for the file; a payment's id is its invoice's id plus this offset.
CLIENT_ID_BASE = 1001
EMPLOYEE_ID_BASE = 101
CONTACT_ID_BASE = 5001
PAYMENT_ID_OFFSET = 10_000_000_000


def _us_date(text: str) -> date:
    """Returns the date of an M/D/YYYY string."""
    month, day, year = (int(part) for part in text.strip().split("/"))
    return date(year, month, day)


def _territory_am(index: int, country_code: str) -> Employee:
    return Employee(
        id=EMPLOYEE_ID_BASE + index,
        firstname="Territory",
        lastname=country_code,
        email=f"am-{country_code}@example.com",
        gchat_space=f"spaces/territory-{country_code}",
    )


def load_ibm_ledger(path: str | Path = DEFAULT_IBM_PATH) -> SourceLedger:
    """Returns the IBM history as a SourceLedger of USD invoices and their payments."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    countries = sorted({row["countryCode"].strip() for row in rows})
    ams = {code: _territory_am(i, code) for i, code in enumerate(countries)}
    territory = {row["customerID"].strip(): row["countryCode"].strip() for row in rows}
    client_codes = sorted(territory)
    client_ids = {code: CLIENT_ID_BASE + i for i, code in enumerate(client_codes)}

    ledger = SourceLedger(currencies=[USD], employees=list(ams.values()))
    for i, code in enumerate(client_codes):
        client_id = client_ids[code]
        ledger.customers.append(
            Customer(
                id=client_id,
                entityid=code,
                companyname=f"Customer {code}",
                email=None,
                currency=USD.id,
                salesrep=ams[territory[code]].id,
            )
        )
        ledger.contacts.append(
            Contact(
                id=CONTACT_ID_BASE + i,
                company=client_id,
                firstname="Accounts",
                lastname="Payable",
                email=f"billing-{code.lower()}@example.com",
                role="Billing",
            )
        )

    for row in rows:
        invoice = _invoice(row, client_ids[row["customerID"].strip()])
        ledger.invoices.append(invoice)
        settled = _us_date(row["SettledDate"])
        ledger.payments.append(
            Payment(
                id=PAYMENT_ID_OFFSET + invoice.id,
                tranid=f"PYT-{invoice.tranid}",
                entity=invoice.entity,
                trandate=settled,
                currency=USD.id,
                total=invoice.total,
                applications=[Application(invoice.id, settled, invoice.total)],
            )
        )
    return ledger


def _invoice(row: dict[str, str], client_id: int) -> Invoice:
    number = row["invoiceNumber"].strip()
    amount = Decimal(row["InvoiceAmount"].strip())
    line = Line(
        item="SERVICES",
        description=f"Services per invoice {number}",
        quantity=Decimal(1),
        rate=amount,
        amount=amount,
    )
    return Invoice(
        id=int(number),
        tranid=number,
        entity=client_id,
        trandate=_us_date(row["InvoiceDate"]),
        duedate=_us_date(row["DueDate"]),
        currency=USD.id,
        total=amount,
        lines=[line],
        is_disputed=row["Disputed"].strip() == "Yes",
    )
