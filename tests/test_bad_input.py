"""Bad source data never stops the batch: a catalogue of kinds, one daily run.

Every kind of bad input below sits in one source ledger beside healthy
clients, and the real daily run goes through it once for the module. Each
kind is then checked on its own: quarantined with a reason (and listed in
the day's single 'quarantined_rows' ops alert), or handled as a finance team
would expect, and in every check the healthy clients still got their email
with the right amount. docs/bad-input.md is the table of these kinds; a test
keeps the two in step.

Values no ledger record can hold (text where a number or date belongs) are
served on the wire by the loopback NetSuite itself; values the sandbox would
otherwise settle (an open invoice with a negative total) are set in its
source tables after each clock change.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ar_assets.plan.messages import message_key
from ar_assets.policy import load_policy
from ar_assets.sandbox.ledger import Contact, CreditMemo, Currency, Employee
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox
from tests.builders import AM_EMAIL, CURRENCIES, LedgerBuilder
from tests.readers import attachments, body_html, body_text

AS_OF = date(2026, 6, 16)
DUE = date(2026, 4, 1)  # 76 days past due on AS_OF
DOC = Path(__file__).resolve().parent.parent / "docs" / "bad-input.md"

HEALTHY = {  # client -> (To, amount as the email shows it)
    "C01": ("ap@c01.test", "€640.00"),
    "C02": ("ap@c02.test", "¥123,456"),
    "C03": ("ap@c03.test", "KWD\xa01,234.567"),
}


@dataclass
class Faults:
    """What a kind asks of the sandbox: text served on the wire in place of a row's
    value, and SQL run on the source tables after every clock change."""

    wire: list[tuple[dict[str, str], str, str]] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)

    def serve(self, match: dict[str, object], column: str, text: str) -> None:
        self.wire.append(({k: str(v) for k, v in match.items()}, column, text))

    def install(self, server: NetSuiteSandbox) -> None:
        page, tables = server._page, server.tables
        rebuild = tables.set_as_of

        def corrupted_page(request, columns, chunk, total, limit, offset):
            body = page(request, columns, chunk, total, limit, offset)
            for item in body["items"]:
                for match, column, text in self.wire:
                    if column in columns and all(item.get(k) == v for k, v in match.items()):
                        item[column] = text
            return body

        def set_as_of(as_of: date) -> float:
            seconds = rebuild(as_of)
            for sql in self.updates:
                tables.con.execute(sql)
            return seconds

        server._page = corrupted_page
        tables.set_as_of = set_as_of


@dataclass(frozen=True)
class BadInput:
    """One kind of bad source data: how the ledger gets it, and what must follow."""

    kind: str
    build: Callable[[LedgerBuilder, Faults], None]
    check: Callable[[Day], None]
    gap: str | None = None  # why the expected handling does not happen yet


CATALOGUE: list[BadInput] = []


def bad_input(kind: str, build: Callable[[LedgerBuilder, Faults], None], gap: str | None = None):
    def register(check: Callable[[Day], None]) -> Callable[[Day], None]:
        CATALOGUE.append(BadInput(kind, build, check, gap))
        return check

    return register


class Day:
    """What the one run of the module produced, with readers per client."""

    def __init__(self, case, ids: dict[str, int], invoice_ids: dict[str, int]) -> None:
        self.case = case
        self.ids = ids
        self.invoice_ids = invoice_ids
        self.emails = case.emails()
        self.chat = case.jsonl("chat")
        self.quarantined = case.query(
            "select source_table, source_id, document_number, client_id, reason "
            "from intermediate.int_quarantined_rows"
        )

    def email_to(self, client: str):
        key = message_key(AS_OF, "client_overdue", self.ids[client])
        found = [m for m in self.emails if str(m["Message-ID"]).startswith(f"<ar-{key}@")]
        assert len(found) <= 1, client
        return found[0] if found else None

    def decision(self, client: str) -> dict:
        [row] = self.case.ledger(as_of=AS_OF, kind="client_overdue", client_id=self.ids[client])
        return row

    def has_no_decision(self, client: str) -> bool:
        return not self.case.ledger(as_of=AS_OF, kind="client_overdue",
                                    client_id=self.ids[client])

    def reasons(self, **where: object) -> list[str]:
        keys = ("source_table", "source_id", "document_number", "client_id")
        return [
            row[4] for row in self.quarantined
            if all(row[keys.index(k)] == v for k, v in where.items())
        ]

    def ops_alert(self, topic: str) -> list[dict]:
        key = message_key(AS_OF, "ops_alert", topic)
        return [m for m in self.chat if m.get("message_key") == key]

    def alert_for(self, client: str, kind: str) -> tuple[dict, dict]:
        """The client's planned alert of a kind (payload) and the Chat message that
        carried it (its own card, or a digest of the space)."""
        [(key, payload)] = self.case.query(
            "select message_key, payload from plan.messages "
            "where as_of = ? and kind = ? and client_id = ?", [AS_OF, kind, self.ids[client]])
        [status] = [r["status"] for r in self.case.ledger(message_key=key)]
        assert status == "delivered", (client, kind, status)
        [posted] = [m for m in self.chat if key in m.get("message_keys", [])]
        return json.loads(payload), posted


def card_text(message: dict) -> str:
    """Everything a Chat message shows, as text (the card escapes HTML)."""
    return html.unescape(json.dumps(message["body"], ensure_ascii=False))


def _healthy_clients_got_their_emails(day: Day) -> None:
    for client, (to, amount) in HEALTHY.items():
        email = day.email_to(client)
        assert email is not None, f"healthy client {client} got no email"
        assert str(email["To"]) == to and str(email["Cc"]) == AM_EMAIL
        assert amount in body_text(email), (client, amount)


def _quarantined_and_reported(day: Day, reason: str, **where: object) -> None:
    """The row is held back with the reason, listed in the day's one ops alert, and
    named in no client email."""
    reasons = day.reasons(**where)
    assert any(reason in r for r in reasons), (where, reasons)
    [alert] = day.ops_alert("quarantined_rows")
    assert reason in card_text(alert)
    document = where.get("document_number")
    if document:
        assert not any(document in body_text(m) for m in day.emails)


def _invoice(b: LedgerBuilder, client: str, tranid: str, total: str = "640.00", **kwargs):
    b.client(client, kwargs.pop("client_currency", "EUR"), **kwargs.pop("client_kwargs", {}))
    return b.invoice(client, tranid, total, kwargs.pop("due", DUE), **kwargs)


# --- Rows that do not parse on landing ------------------------------------------------

def _unparseable_invoice_value(
    kind: str, client: str, column: str, value: str, reason: str, *, no_decision: bool = False,
) -> None:
    """Registers a kind: one open EUR invoice of `client` is served with `value` in
    `column`; it is quarantined with `reason`, reported, and never reminded."""
    tranid = f"INV-{client[1:]}01"

    def build(b, faults):
        faults.serve({"id": _invoice(b, client, tranid)}, column, value)

    @bad_input(kind, build)
    def _(day: Day) -> None:
        _quarantined_and_reported(day, reason, source_table="netsuite_transactions",
                                  document_number=tranid)
        assert day.email_to(client) is None
        assert day.has_no_decision(client) or not no_decision


_unparseable_invoice_value("non_numeric_total", "C11", "foreigntotal", "12,34O.00",
                           "foreigntotal: not a decimal: '12,34O.00'", no_decision=True)
# Its open amount is read as total less paid (640.00), which explains the EUR
# difference to the cent, so the reconciliation gate lets the day go on.
_unparseable_invoice_value("non_numeric_amount_unpaid", "C25", "foreignamountunpaid", "n/a",
                           "foreignamountunpaid: not a decimal: 'n/a'", no_decision=True)
_unparseable_invoice_value("unparseable_due_date", "C12", "duedate", "31/02/2026",
                           "duedate: not an ISO date: '31/02/2026'")
_unparseable_invoice_value("unparseable_invoice_date", "C13", "trandate", "2026-13-45",
                           "trandate: not an ISO date: '2026-13-45'")
_unparseable_invoice_value("amount_past_six_decimals", "C14", "foreigntotal", "640.0000001",
                           "more than 6 decimal places: '640.0000001'")


def _non_numeric_line_amount(b, faults):
    b.client("C15", "EUR")
    inv = b.invoice("C15", "INV-1501", "640.00", DUE,
                    lines=[("A", "Part one", "1", "400.00"), ("B", "Part two", "1", "240.00")])
    faults.serve({"transaction": inv, "linesequencenumber": 2}, "foreignamount", "2 40")


@bad_input("non_numeric_line_amount", _non_numeric_line_amount)
def _(day: Day) -> None:
    # The line is quarantined on landing; the invoice it leaves short is held too.
    _quarantined_and_reported(day, "foreignamount: not a decimal: '2 40'",
                              source_table="netsuite_transaction_lines")
    _quarantined_and_reported(day, "lines sum to 400, not the total 640",
                              document_number="INV-1501")
    assert day.email_to("C15") is None


def _customer_flag_not_t_or_f(b, faults):
    _invoice(b, "C16", "INV-1601")
    faults.serve({"id": 16}, "isinactive", "maybe")


@bad_input("customer_flag_not_t_or_f", _customer_flag_not_t_or_f)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "isinactive: not a T/F flag: 'maybe'",
                              source_table="netsuite_customers", source_id="16")
    # Its invoice has no client to go to: held, and said so.
    _quarantined_and_reported(day, "client 16 is not a landed customer",
                              document_number="INV-1601")
    assert day.has_no_decision("C16")


def _contact_flag_not_t_or_f(b, faults):
    _invoice(b, "C17", "INV-1701", client_kwargs={"contacts": [
        ("ap@c17.test", "Billing"), ("broken@c17.test", "Billing")]})
    faults.serve({"id": b.ledger.contacts[-1].id}, "isinactive", "?")


@bad_input("contact_flag_not_t_or_f", _contact_flag_not_t_or_f)
def _(day: Day) -> None:
    # The contact is held back; the client's other billing contact still gets the email.
    _quarantined_and_reported(day, "isinactive: not a T/F flag: '?'",
                              source_table="netsuite_contacts")
    email = day.email_to("C17")
    assert str(email["To"]) == "ap@c17.test"
    assert "€640.00" in body_text(email)


def _disputed_flag_not_t_or_f(b, faults):
    inv = _invoice(b, "C18", "INV-1801")
    faults.serve({"id": inv}, "is_disputed", "Y")


@bad_input("disputed_flag_not_t_or_f", _disputed_flag_not_t_or_f)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "is_disputed: not a T/F flag: 'Y'",
                              document_number="INV-1801")
    assert day.email_to("C18") is None


def _missing_document_number(b, faults):
    inv = _invoice(b, "C19", "INV-1901")
    faults.serve({"id": inv}, "tranid", "")


@bad_input("missing_document_number", _missing_document_number)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "missing document number",
                              source_id=str(day.invoice_ids["INV-1901"]))
    assert day.email_to("C19") is None


# --- Rows that parse but fail a check in dbt ------------------------------------------

@bad_input("missing_due_date", lambda b, f: _invoice(b, "C20", "INV-2001", due=None,
                                                     trandate=date(2026, 3, 2)))
def _(day: Day) -> None:
    _quarantined_and_reported(day, "missing due date", document_number="INV-2001")
    assert day.email_to("C20") is None and day.has_no_decision("C20")


def _unknown_currency_code(b, faults):
    b.ledger.currencies.append(Currency(99, "XYZ", "Not a currency"))
    inv = _invoice(b, "C21", "INV-2101")
    next(i for i in b.ledger.invoices if i.id == inv).currency = 99


@bad_input("unknown_currency_code", _unknown_currency_code)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "unknown currency XYZ", document_number="INV-2101")
    assert day.email_to("C21") is None


def _currency_id_without_currency(b, faults):
    inv = _invoice(b, "C22", "INV-2201")
    next(i for i in b.ledger.invoices if i.id == inv).currency = 77


@bad_input("currency_id_without_currency", _currency_id_without_currency)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "missing currency", document_number="INV-2201")
    assert day.email_to("C22") is None


def _negative_total(b, faults):
    inv = _invoice(b, "C23", "INV-2301", "500.00")
    faults.updates.append(
        "update transaction set foreigntotal = -500, foreignamountunpaid = -500, status = 'A' "
        f"where id = {inv}"
    )
    faults.updates.append(f"update transactionline set foreignamount = 500 where transaction = "
                          f"{inv} and mainline = 'F'")


@bad_input("negative_total", _negative_total)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "negative total -500", document_number="INV-2301")
    assert day.email_to("C23") is None


@bad_input("paid_more_than_total", lambda b, f: _invoice(
    b, "C24", "INV-2401", "1000.00", paid="1200.00", paid_on=date(2026, 6, 1)))
def _(day: Day) -> None:
    _quarantined_and_reported(day, "paid 1200, more than the total 1000",
                              document_number="INV-2401")
    assert day.email_to("C24") is None


@bad_input("due_date_before_invoice_date", lambda b, f: _invoice(
    b, "C26", "INV-2601", trandate=date(2026, 5, 1)))
def _(day: Day) -> None:
    _quarantined_and_reported(day, "due date 2026-04-01 before invoice date 2026-05-01",
                              document_number="INV-2601")
    assert day.email_to("C26") is None


@bad_input("lines_not_summing_to_total", lambda b, f: _invoice(
    b, "C27", "INV-2701", lines=[("A", "Part one", "1", "300.00"),
                                 ("B", "Part two", "2", "100.00")]))
def _(day: Day) -> None:
    _quarantined_and_reported(day, "lines sum to 500, not the total 640",
                              document_number="INV-2701")
    assert day.email_to("C27") is None


@bad_input("yen_amount_with_decimals", lambda b, f: _invoice(
    b, "C28", "INV-2801", "1234.50", client_currency="JPY"))
def _(day: Day) -> None:
    _quarantined_and_reported(day, "JPY amount with more than 0 decimal places",
                              document_number="INV-2801")
    assert day.email_to("C28") is None


@bad_input("dinar_amount_with_four_decimals", lambda b, f: _invoice(
    b, "C29", "INV-2901", "1.2345", client_currency="KWD"))
def _(day: Day) -> None:
    _quarantined_and_reported(day, "KWD amount with more than 3 decimal places",
                              document_number="INV-2901")
    assert day.email_to("C29") is None


def _invoice_of_unknown_client(b, faults):
    inv = _invoice(b, "C30", "INV-3001")
    next(i for i in b.ledger.invoices if i.id == inv).entity = 99999


@bad_input("invoice_of_unknown_client", _invoice_of_unknown_client)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "client 99999 is not a landed customer",
                              document_number="INV-3001")
    assert not day.case.ledger(as_of=AS_OF, client_id=99999)


def _orphan_credit(b, faults):
    b.ledger.credit_memos.append(
        CreditMemo(99001, "CM-99001", 99998, date(2026, 5, 1), CURRENCIES["EUR"],
                   Decimal("250.00")))


@bad_input("credit_of_unknown_client", _orphan_credit)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "client 99998 is not a landed customer",
                              document_number="CM-99001")


def _credit_in_unknown_currency(b, faults):
    if not any(c.id == 99 for c in b.ledger.currencies):
        b.ledger.currencies.append(Currency(99, "XYZ", "Not a currency"))
    _invoice(b, "C31", "INV-3101")
    memo = b.credit("C31", "CM-3101", "200.00")
    next(m for m in b.ledger.credit_memos if m.id == memo).currency = 99


@bad_input("credit_in_unknown_currency", _credit_in_unknown_currency)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "unknown currency XYZ", document_number="CM-3101")
    # The invoice is reminded in full: a credit in no known currency offsets nothing.
    email = day.email_to("C31")
    assert "€640.00" in body_text(email)
    assert json.loads(day.decision("C31")["amounts"]) == {"EUR": "640.00"}


def _non_numeric_credit_unapplied(b, faults):
    _invoice(b, "C55", "INV-5501")
    memo = b.credit("C55", "CM-5501", "200.00")
    faults.serve({"id": memo}, "foreignpaymentamountunused", "n/a")


@bad_input("non_numeric_credit_unapplied", _non_numeric_credit_unapplied)
def _(day: Day) -> None:
    # The credit cannot be counted, so reconciliation accepts the EUR shortfall it may
    # explain; the client's reminder is held, since its balance may be lower.
    _quarantined_and_reported(day, "foreignpaymentamountunused: not a decimal: 'n/a'",
                              source_table="netsuite_transactions", document_number="CM-5501")
    assert day.email_to("C55") is None
    assert day.decision("C55")["reason"] == (
        "held: credit CM-5501 did not parse on landing, so the balance may be lower")


# --- Handled without quarantine -------------------------------------------------------

@bad_input("zero_total_invoice", lambda b, f: _invoice(b, "C32", "INV-3201", "0.00"))
def _(day: Day) -> None:
    # Nothing is owed, so nothing is reminded or reported.
    assert day.email_to("C32") is None
    assert not day.reasons(document_number="INV-3201")
    assert not any("INV-3201" in json.dumps(m) for m in day.chat)


def _credits_larger_than_invoices(b, faults):
    _invoice(b, "C33", "INV-3301", "500.00")
    b.credit("C33", "CM-3301", "800.00")


@bad_input("credits_larger_than_all_invoices", _credits_larger_than_invoices)
def _(day: Day) -> None:
    assert day.email_to("C33") is None
    assert day.decision("C33")["reason"] == "net credit balance"


def _client_without_am(b, faults):
    _invoice(b, "C34", "INV-3401")
    b.ledger.customers[-1].salesrep = None


@bad_input("client_without_am", _client_without_am)
def _(day: Day) -> None:
    email = day.email_to("C34")
    assert str(email["To"]) == "ap@c34.test" and email["Cc"] is None
    assert "€640.00" in body_text(email)
    planned, posted = day.alert_for("C34", "am_overdue")
    assert planned["space"] == "ar_team" and posted["space"] == "ar_team"


def _am_not_an_employee(b, faults):
    _invoice(b, "C35", "INV-3501")
    b.ledger.customers[-1].salesrep = 777


@bad_input("am_not_an_employee", _am_not_an_employee)
def _(day: Day) -> None:
    email = day.email_to("C35")
    assert str(email["To"]) == "ap@c35.test" and email["Cc"] is None
    planned, posted = day.alert_for("C35", "am_overdue")
    assert planned["space"] == "am-777" and posted["space"] == "ar_team"


def _am_without_email(b, faults):
    b.ledger.employees.append(Employee(901, "Nomail", "Manager", None))
    _invoice(b, "C36", "INV-3601")
    b.ledger.customers[-1].salesrep = 901


@bad_input("am_without_email", _am_without_email)
def _(day: Day) -> None:
    email = day.email_to("C36")
    assert str(email["To"]) == "ap@c36.test" and email["Cc"] is None
    assert "€640.00" in body_text(email)


def _am_with_invalid_email(b, faults):
    b.ledger.employees.append(Employee(902, "Typo", "Manager", "am@@ar-demo.example"))
    _invoice(b, "C37", "INV-3701")
    b.ledger.customers[-1].salesrep = 902


@bad_input("am_with_invalid_email", _am_with_invalid_email)
def _(day: Day) -> None:
    _quarantined_and_reported(day, "account manager email is not a single valid address",
                              source_table="netsuite_employees", source_id="902")
    email = day.email_to("C37")
    assert str(email["To"]) == "ap@c37.test" and email["Cc"] is None
    assert "€640.00" in body_text(email)


def _am_without_chat_space(b, faults):
    b.ledger.employees.append(Employee(903, "Nochat", "Manager", "am.three@ar-demo.example"))
    _invoice(b, "C38", "INV-3801")
    b.ledger.customers[-1].salesrep = 903


@bad_input("am_without_chat_space", _am_without_chat_space)
def _(day: Day) -> None:
    planned, posted = day.alert_for("C38", "am_overdue")
    assert planned["space"] == "am-903" and posted["space"] == "ar_team"
    assert str(day.email_to("C38")["Cc"]) == "am.three@ar-demo.example"


@bad_input("client_without_any_address", lambda b, f: _invoice(
    b, "C39", "INV-3901", client_kwargs={"billing": None}))
def _(day: Day) -> None:
    assert day.decision("C39")["reason"] == "missing billing contact"
    [alert] = day.ops_alert("missing_billing_contact")
    assert "C39 Trading" in card_text(alert)


@bad_input("billing_contact_with_empty_email", lambda b, f: _invoice(
    b, "C40", "INV-4001", client_kwargs={"contacts": [("", "Billing"), ("  ", "Billing")],
                                         "email": "billing@c40.test"}))
def _(day: Day) -> None:
    email = day.email_to("C40")
    assert str(email["To"]) == "billing@c40.test"


@bad_input("duplicate_billing_contacts", lambda b, f: _invoice(
    b, "C41", "INV-4101", client_kwargs={"contacts": [
        ("ap@c41.test", "Billing"), (" AP@C41.test ", "billing"), ("ap@c41.test", "BILLING")]}))
def _(day: Day) -> None:
    email = day.email_to("C41")
    assert [a.addr_spec.lower() for a in email["To"].addresses] == ["ap@c41.test"]


@bad_input("invalid_billing_address", lambda b, f: _invoice(
    b, "C42", "INV-4201", client_kwargs={"contacts": [("ap@@c42.test", "Billing")]}))
def _(day: Day) -> None:
    assert day.email_to("C42") is None
    decision = day.decision("C42")
    assert (decision["status"], decision["reason"]) == ("failed", "invalid address")
    [alert] = day.ops_alert("failed_deliveries")
    assert "C42 Trading" in card_text(alert)
    assert "ap@@c42.test" not in card_text(alert)


@bad_input("address_list_in_one_field", lambda b, f: _invoice(
    b, "C43", "INV-4301",
    client_kwargs={"contacts": [("ap@c43.test, thief@evil.test", "Billing")]}))
def _(day: Day) -> None:
    assert day.email_to("C43") is None
    assert day.decision("C43")["reason"] == "invalid address"
    assert not any("thief@evil.test" in str(m["To"]) + str(m["Cc"]) for m in day.emails)


NAME_WITH_BREAKS = "Line\r\nBcc: thief@evil.test\r\nBreak GmbH"


@bad_input("name_with_line_breaks", lambda b, f: _invoice(
    b, "C44", "INV-4401", client_kwargs={"companyname": NAME_WITH_BREAKS}))
def _(day: Day) -> None:
    email = day.email_to("C44")
    assert email["Bcc"] is None and "\n" not in str(email["Subject"])
    assert [str(a) for a in email["To"].addresses] == ["ap@c44.test"]
    assert "Line Bcc: thief@evil.test Break GmbH" in body_text(email)
    assert "€640.00" in body_text(email)


HTML_NAME = '<script>alert("x")</script><b>Bold</b> & Co'


@bad_input("name_with_html", lambda b, f: _invoice(
    b, "C45", "INV-4501", client_kwargs={"companyname": HTML_NAME}))
def _(day: Day) -> None:
    page = body_html(day.email_to("C45"))
    assert "<script>" not in page and "<b>Bold</b>" not in page
    assert "&lt;script&gt;" in page and "&amp; Co" in page


RTL_NAME = "شركة الخليج للتجارة \u202etxt.exe"


@bad_input("name_in_right_to_left_script", lambda b, f: _invoice(
    b, "C46", "INV-4601", client_kwargs={"companyname": RTL_NAME}))
def _(day: Day) -> None:
    email = day.email_to("C46")
    assert "شركة الخليج للتجارة" in body_text(email)
    assert "€640.00" in body_text(email)
    assert [name for name, _ in attachments(email)] == ["Invoice_INV-4601.pdf"]


LONG_NAME = "Very Long Name Trading " * 435  # 10,005 characters


@bad_input("name_of_ten_thousand_characters", lambda b, f: _invoice(
    b, "C47", "INV-4701", client_kwargs={"companyname": LONG_NAME}))
def _(day: Day) -> None:
    email = day.email_to("C47")
    assert "€640.00" in body_text(email)
    assert len(attachments(email)) == 1
    assert all(len(line) <= 998 for line in email.as_string().splitlines())


def _thousand_overdue_invoices(b, faults):
    b.client("C48", "EUR")
    for n in range(1000):
        b.invoice("C48", f"INV-48{n:04d}", "1.25", DUE)


@bad_input("client_with_a_thousand_overdue_invoices", _thousand_overdue_invoices)
def _(day: Day) -> None:
    # One email with a thousand PDFs would be refused by most mail servers: the AM
    # gets the alert with the full amount and sends a statement by hand.
    assert day.email_to("C48") is None
    decision = day.decision("C48")
    assert decision["status"] == "skipped"
    assert decision["reason"] == (
        f"1000 overdue invoices, over {load_policy().max_invoices_per_email} for one email"
        " (manual outreach)"
    )
    planned, posted = day.alert_for("C48", "am_overdue")
    assert planned["notes"] == ["too many overdue invoices for one email: send a statement"]
    assert [s["overdue_subtotal"] for s in planned["amounts"]] == ["1250.00"]
    assert len(planned["invoices"]) == 1000
    assert "€1,250.00" in card_text(posted)


@bad_input("due_date_far_in_the_future", lambda b, f: _invoice(
    b, "C49", "INV-4901", due=date(2099, 12, 31), trandate=date(2026, 6, 1)))
def _(day: Day) -> None:
    assert day.decision("C49")["reason"] == "nothing overdue"
    [(dpd, remaining)] = day.case.query(
        "select dpd, remaining_amount from marts.fct_open_invoices where tranid = 'INV-4901'")
    assert dpd < 0 and remaining == Decimal("640.00")


def _inactive_customer(b, faults):
    _invoice(b, "C50", "INV-5001")
    b.ledger.customers[-1].is_inactive = True


@bad_input("inactive_customer", _inactive_customer)
def _(day: Day) -> None:
    assert day.email_to("C50") is None
    assert day.decision("C50")["reason"] == "excluded: inactive in NetSuite (manual outreach)"
    planned, _ = day.alert_for("C50", "am_overdue")
    assert "manual outreach" in planned["notes"]


@bad_input("unknown_language", lambda b, f: _invoice(
    b, "C51", "INV-5101", client_kwargs={"language": "Klingon"}))
def _(day: Day) -> None:
    email = day.email_to("C51")
    assert email["Content-Language"] == "en" and "€640.00" in body_text(email)


def _repeated_document_number(b, faults):
    _invoice(b, "C52", "INV-5201", "100.00")
    b.invoice("C52", "INV-5201", "200.00", DUE)


@bad_input("repeated_document_number", _repeated_document_number)
def _(day: Day) -> None:
    # Two invoices that share a number are two debts: both listed, both attached.
    email = day.email_to("C52")
    assert "€300.00" in body_text(email)
    assert len(attachments(email)) == 2


@bad_input("invoice_dated_after_the_run", lambda b, f: _invoice(
    b, "C53", "INV-5301", due=date(2026, 7, 30), trandate=date(2026, 6, 30)))
def _(day: Day) -> None:
    # Not issued yet on the business date: the source does not return it.
    assert not day.case.query("select 1 from raw.netsuite_transactions where tranid = 'INV-5301'")
    assert day.email_to("C53") is None


def _contact_of_unknown_client(b, faults):
    _invoice(b, "C54", "INV-5401")
    b.ledger.contacts.append(Contact(99002, 99997, "Stray", "Contact", "stray@c99.test",
                                     "Billing"))


@bad_input("contact_of_unknown_client", _contact_of_unknown_client)
def _(day: Day) -> None:
    assert not any("stray@c99.test" in str(m["To"]) + str(m["Cc"]) for m in day.emails)
    assert str(day.email_to("C54")["To"]) == "ap@c54.test"


@bad_input("dinar_amount_with_three_decimals", lambda b, f: None)
def _(day: Day) -> None:
    # C03 is healthy and billed in KWD with three decimals: shown exactly, not rounded.
    email = day.email_to("C03")
    assert "KWD\xa01,234.567" in body_text(email)
    assert json.loads(day.decision("C03")["amounts"]) == {"KWD": "1234.567"}


# --- The run ---------------------------------------------------------------------------

def _catalogue_ledger() -> tuple[LedgerBuilder, Faults]:
    b = LedgerBuilder()
    b.client("C01", "EUR")
    b.invoice("C01", "INV-0101", "640.00", DUE)
    b.client("C02", "JPY")
    b.invoice("C02", "INV-0201", "123456", DUE)
    b.client("C03", "KWD")
    b.invoice("C03", "INV-0301", "1234.567", DUE)
    faults = Faults()
    for item in CATALOGUE:
        item.build(b, faults)
    return b, faults


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Day:
    from ar_assets.sandbox.session import SandboxSession
    from tests.conftest import CaseRun

    b, faults = _catalogue_ledger()
    ids = {c.entityid: c.id for c in b.ledger.customers}
    invoice_ids = {i.tranid: i.id for i in b.ledger.invoices}
    with SandboxSession.start(b.build(), tmp_path_factory.mktemp("bad_input")) as session:
        faults.install(session.server)
        case = CaseRun(session)
        case.run(AS_OF)
        yield Day(case, ids, invoice_ids)


def _cases() -> list:
    return [
        pytest.param(item, id=item.kind, marks=[pytest.mark.xfail(reason=item.gap, strict=True)]
                     if item.gap else [])
        for item in CATALOGUE
    ]


@pytest.mark.parametrize("item", _cases())
def test_each_kind_of_bad_input_is_quarantined_or_handled_and_the_batch_goes_on(day, item):
    item.check(day)
    _healthy_clients_got_their_emails(day)


def test_the_day_reports_every_quarantined_row_in_one_ops_alert(day):
    [alert] = day.ops_alert("quarantined_rows")
    key = message_key(AS_OF, "ops_alert", "quarantined_rows")
    assert [r["status"] for r in day.case.ledger(message_key=key)] == ["delivered"]
    assert day.case.query("select reason from plan.messages where message_key = ?", [key]) == [
        (f"Source rows quarantined: {len(day.quarantined)}",)]
    body = card_text(alert)
    assert all(reason in body for *_, reason in day.quarantined)
    assert not re.search(r"[\w.+-]+@[\w-]+\.test", body), "an address in the ops alert"


def test_the_catalogue_holds_at_least_thirty_kinds_and_the_doc_lists_each():
    kinds = [item.kind for item in CATALOGUE]
    assert len(kinds) >= 30 and len(set(kinds)) == len(kinds)
    documented = set(re.findall(r"^\| `(\w+)` \|", DOC.read_text(), flags=re.MULTILINE))
    assert set(kinds) <= documented, sorted(set(kinds) - documented)


def test_the_currency_seed_matches_the_currencies_the_renderer_knows():
    from babel.numbers import get_currency_precision, list_currencies

    seed = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "iso_currencies.csv"
    rows = [line.split(",") for line in seed.read_text().splitlines()[1:]]
    expected = sorted(c for c in list_currencies() if re.fullmatch(r"[A-Z]{3}", c))
    assert [code for code, _ in rows] == expected
    assert all(int(units) == get_currency_precision(code) for code, units in rows)
