"""Secrets and recipients stay where they belong; client text cannot steer a message.

Protects SPEC 6: NetSuite credentials come from the environment and never
appear in Dagster's event log, materialization metadata, Python log records or
the ledger; no recipient address appears in them either. A client's email goes
only to its own billing contacts (or customer email) and its AM, and carries
only its own invoices (checked as a property over generated ledgers through
the planner, renderer and MIME builder). Header and HTML injection in company
names, contact names, invoice numbers and line descriptions is inert in a full
daily run.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import duckdb
import pytest
from dagster import serialize_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ar_assets.money import minor_units
from ar_assets.plan.messages import ClientEmailPlan
from ar_assets.plan.planning import DayFacts, plan_day
from ar_assets.policy import load_policy
from ar_assets.render.branding import load_branding
from ar_assets.render.emails import render_client_email
from ar_assets.render.mime import build_client_email
from ar_assets.render.pdfs import attachment_filename, render_invoice_pdfs
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox, SandboxCredentials
from ar_assets.sandbox.serve import serve_app
from ar_assets.sandbox.session import SandboxSession
from tests.builders import LedgerBuilder
from tests.readers import attachments, body_html, body_text

AS_OF = date(2026, 6, 16)
DUE = date(2026, 4, 1)

SECRETS = {
    "NETSUITE_ACCOUNT_ID": "4417230_SB7",
    "NETSUITE_CONSUMER_KEY": "ck-Quokka-5e1f0c9b7a",
    "NETSUITE_CONSUMER_SECRET": "cs-Narwhal-77b2d4e6f1",
    "NETSUITE_TOKEN_ID": "tk-Pangolin-0c3a9e8d52",
    "NETSUITE_TOKEN_SECRET": "ts-Axolotl-91f6b0c2e4",
    "NETSUITE_CLIENT_ID": "ci-Okapi-3d5e7f9a1b",
    "NETSUITE_CERTIFICATE_ID": "cert-Tapir-8a6c4e2b0d",
}
AM_ADDRESS = "am.confidential@ar-demo.example"
INJECTED_NAME = (
    "Evil Corp\r\nBcc: thief@evil.test\r\nX-Injected: yes <img src=x onerror=alert(1)> "
    "<users/all>"
)
INJECTED_TRANID = "INV-64\r\nBcc: thief@evil.test<b>"
INJECTED_LINE = "<script>alert(1)</script>\r\nCc: thief@evil.test"
INJECTED_CONTACT = "Eve\r\nBcc: thief@evil.test"
RECIPIENTS = {
    61: ["ap.wallaby@c61.test"],
    62: ["ap@@c62.test"],
    63: ["pay.kestrel@c63.test"],
    64: ["ap.heron@c64.test"],
}


def _secrets_ledger():
    b = LedgerBuilder()
    b.ledger.employees[0].email = AM_ADDRESS
    b.client("C61", "EUR", contacts=[(RECIPIENTS[61][0], "Billing")])
    b.invoice("C61", "INV-6101", "640.00", DUE)
    # A refused address, a fallback address and a missing one walk the paths that
    # report on recipients.
    b.client("C62", "EUR", contacts=[(RECIPIENTS[62][0], "Billing")])
    b.invoice("C62", "INV-6201", "150.00", DUE)
    b.client("C63", "USD", email=RECIPIENTS[63][0], billing=None)
    b.invoice("C63", "INV-6301", "99.99", DUE)
    b.client("C65", "EUR", billing=None)
    b.invoice("C65", "INV-6501", "75.00", DUE)
    # Every client-supplied text carries a header and an HTML injection.
    b.client("C64", "EUR", companyname=INJECTED_NAME,
             contacts=[(RECIPIENTS[64][0], "Billing")])
    b.ledger.contacts[-1].firstname = INJECTED_CONTACT
    b.invoice("C64", INJECTED_TRANID, "320.00", DUE,
              lines=[("SERVICE<i>", INJECTED_LINE, "2", "160.00")])
    return b.build()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(f"{record.name} {record.getMessage()} {record.args!r} "
                          f"{record.exc_text or ''} {getattr(record, 'dagster_meta', '')!r}")


@pytest.fixture(scope="module")
def secret_day(tmp_path_factory):
    """One daily run whose NetSuite credentials are distinctive secrets; yields the
    run's case, everything it logged as text, and its materialization metadata."""
    from tests.conftest import CaseRun

    workdir = tmp_path_factory.mktemp("security")
    key_path = workdir / "netsuite-key.pem"
    credentials = SandboxCredentials(
        account_id=SECRETS["NETSUITE_ACCOUNT_ID"],
        consumer_key=SECRETS["NETSUITE_CONSUMER_KEY"],
        consumer_secret=SECRETS["NETSUITE_CONSUMER_SECRET"],
        token_id=SECRETS["NETSUITE_TOKEN_ID"],
        token_secret=SECRETS["NETSUITE_TOKEN_SECRET"],
        client_id=SECRETS["NETSUITE_CLIENT_ID"],
        certificate_id=SECRETS["NETSUITE_CERTIFICATE_ID"],
    )
    key_path.write_text(credentials.private_key_pem)
    server = NetSuiteSandbox(_secrets_ledger(), AS_OF, credentials=credentials)
    records = _Records()
    root = logging.getLogger()
    level = root.level
    with serve_app(server.app) as base_url, pytest.MonkeyPatch.context() as env:
        session = SandboxSession(workdir, server, base_url)
        session.log_level = "DEBUG"
        for name, value in session.environment().items():
            env.setenv(name, value)
        env.setenv("NETSUITE_CLIENT_ID", SECRETS["NETSUITE_CLIENT_ID"])
        env.setenv("NETSUITE_CERTIFICATE_ID", SECRETS["NETSUITE_CERTIFICATE_ID"])
        env.setenv("NETSUITE_PRIVATE_KEY_PATH", str(key_path))
        root.addHandler(records)
        root.setLevel(logging.DEBUG)
        try:
            result = CaseRun(session).run(AS_OF)
        finally:
            root.removeHandler(records)
            root.setLevel(level)
        events = [serialize_value(e) for e in session._instance.all_logs(result.run_id)]
        metadata = [
            serialize_value(event.event_specific_data.materialization.metadata)
            for event in result.get_asset_materialization_events()
        ]
        yield {
            "case": CaseRun(session),
            "events": events,
            "records": records.texts,
            "metadata": metadata,
            "private_key": credentials.private_key_pem,
        }


def _private_key_body(pem: str) -> list[str]:
    """Base64 lines of the key (the armour lines are no secret)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_the_run_really_authenticated_with_the_secret_credentials(secret_day):
    # The sandbox accepts only these credentials, so every answered query proves them.
    case = secret_day["case"]
    requests = case.session.server.requests
    assert requests and all(r.status == 200 for r in requests)
    assert [str(m["To"]) for m in case.emails() if "INV-6101" in body_text(m)] == [
        RECIPIENTS[61][0]]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_no_netsuite_secret_appears_in_logs_metadata_or_the_ledger(secret_day, name):
    secret = SECRETS[name]
    case = secret_day["case"]
    assert secret_day["events"] and secret_day["records"] and secret_day["metadata"]
    for where in ("events", "records", "metadata"):
        leaks = [text for text in secret_day[where] if secret in text]
        assert not leaks, f"{name} in {where}: {leaks[0][:300]}"
    assert secret not in json.dumps(case.ledger(), default=str)


def test_the_private_key_appears_nowhere(secret_day):
    corpus = "\n".join(secret_day["events"] + secret_day["records"] + secret_day["metadata"])
    assert not any(line in corpus for line in _private_key_body(secret_day["private_key"]))


@pytest.mark.parametrize("address", [
    *[a for addresses in RECIPIENTS.values() for a in addresses], AM_ADDRESS,
])
def test_no_recipient_address_appears_in_run_logs_metadata_or_the_ledger(secret_day, address):
    for where in ("events", "records", "metadata"):
        leaks = [text for text in secret_day[where] if address in text]
        assert not leaks, f"{address} in {where}: {leaks[0][:300]}"
    assert address not in json.dumps(secret_day["case"].ledger(), default=str)


# --- Header and HTML injection, in the same full run ---------------------------------

def _injected_email(case):
    [email] = [m for m in case.emails() if "ap.heron@c64.test" in str(m["To"])]
    return email


def test_injection_in_client_text_adds_no_header_and_no_recipient(secret_day):
    case = secret_day["case"]
    email = _injected_email(case)
    raw = email.as_bytes()
    assert email["Bcc"] is None and email["X-Injected"] is None
    assert [a.addr_spec for a in email["To"].addresses] == ["ap.heron@c64.test"]
    assert [a.addr_spec for a in email["Cc"].addresses] == [AM_ADDRESS]
    headers = raw.split(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n", 1)[0]
    assert not re.search(rb"^(Bcc|X-Injected):", headers, flags=re.MULTILINE)
    assert all("thief@evil.test" not in str(m["To"]) + str(m["Cc"]) + str(m["Bcc"])
               for m in case.emails())
    sent_to = {a.addr_spec for m in case.emails() for h in ("To", "Cc")
               for a in (m[h].addresses if m[h] else ())}
    assert sent_to == {RECIPIENTS[61][0], RECIPIENTS[63][0], RECIPIENTS[64][0], AM_ADDRESS}


def test_injection_in_client_text_is_escaped_in_the_html_and_shown_as_text(secret_day):
    email = _injected_email(secret_day["case"])
    page = body_html(email)
    assert "<img" not in page and "<b>" not in page and "<script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Evil Corp Bcc: thief@evil.test X-Injected: yes" in body_text(email)
    assert "\n" not in str(email["Subject"])


def test_injection_in_an_invoice_number_and_a_line_stays_literal_text_in_the_pdf(secret_day):
    email = _injected_email(secret_day["case"])
    [(filename, pdf)] = attachments(email)
    assert "\n" not in filename and "\r" not in filename and "<" not in filename
    assert filename.startswith("Invoice_INV-64")
    text = _pdf_text(pdf)
    assert "<script>alert(1)</script> Cc: thief@evil.test" in text
    assert "INV-64 Bcc: thief@evil.test<b>" in text
    assert "Evil Corp Bcc: thief@evil.test X-Injected: yes <img src=x onerror=alert(1)>" in text
    assert "€320.00" in text


def test_injection_in_a_company_name_cannot_mention_a_whole_chat_space(secret_day):
    posted = json.dumps(secret_day["case"].jsonl("chat"), ensure_ascii=False)
    assert "<users/all>" not in posted
    assert "<img" not in posted


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text with every run of whitespace made one space (lines wrap)."""
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, check=True,
                          capture_output=True).stdout.decode()
    return " ".join(text.split())


# --- Isolation as a property of the planner, renderer and MIME builder ------------------

CURRENCY_CHOICES = ["EUR", "USD", "JPY", "KWD"]


@st.composite
def ledgers(draw):
    """Marts-shaped facts for two or three clients: invoices in random currencies,
    zero to two billing addresses, a customer email or none, one of two AMs."""
    clients, balances, invoices, recipients, lines = [], [], [], [], []
    expected: dict[int, dict] = {}
    client_ids = draw(st.lists(st.integers(10, 99), min_size=2, max_size=3, unique=True))
    next_invoice = 1
    for cid in client_ids:
        am_id = draw(st.sampled_from([901, 902]))
        billing = [f"ap{k}@c{cid}.test" for k in range(draw(st.integers(0, 2)))]
        customer_email = draw(st.sampled_from([None, f"office@c{cid}.test"]))
        addresses = billing or ([customer_email] if customer_email else [])
        recipients += [{"client_id": cid, "email": a} for a in addresses]
        per_currency: dict[str, Decimal] = defaultdict(Decimal)
        tranids = []
        for k in range(draw(st.integers(1, 3))):
            currency = draw(st.sampled_from(CURRENCY_CHOICES))
            minor = draw(st.integers(1, 10_000_000))
            amount = Decimal(minor).scaleb(-minor_units(currency))
            dpd = draw(st.integers(31, 200))
            tranid = f"C{cid}-INV-{k:02d}"
            tranids.append(tranid)
            invoices.append({
                "client_id": cid, "invoice_id": next_invoice, "tranid": tranid,
                "currency_code": currency, "trandate": AS_OF - timedelta(days=dpd + 30),
                "due_date": AS_OF - timedelta(days=dpd), "dpd": dpd, "total_amount": amount,
                "amount_paid": Decimal(0), "credits_applied": Decimal(0),
                "remaining_amount": amount, "is_overdue": True,
            })
            lines.append({"invoice_id": next_invoice, "line_number": 1, "item": "SERVICE",
                          "description": f"Work for C{cid}", "quantity": Decimal(1),
                          "rate": amount, "amount": amount})
            per_currency[currency] += amount
            next_invoice += 1
        balances += [
            {"client_id": cid, "currency_code": c, "net_balance": total, "open_balance": total,
             "credits_applied": Decimal(0)}
            for c, total in per_currency.items()
        ]
        clients.append({
            "client_id": cid, "client_name": f"Client {cid} GmbH", "tier": 1,
            "language_code": "en", "is_excluded": False, "is_cadence_eligible": True,
            "am_id": am_id, "am_email": f"am{am_id}@corp.test", "am_name": f"AM {am_id}",
            "is_balance_resolved": False,
        })
        expected[cid] = {"to": set(addresses), "cc": {f"am{am_id}@corp.test"},
                         "tranids": set(tranids), "name": f"Client {cid} GmbH"}
    facts = DayFacts(AS_OF, clients, balances, invoices, recipients, lines, predue=[])
    return facts, expected


@pytest.fixture(scope="module")
def pdf_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pdf-cache")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ledgers())
def test_every_email_goes_only_to_its_own_client_and_carries_only_its_invoices(
    pdf_cache, generated
):
    facts, expected = generated
    branding = load_branding()
    plans = [p.payload for p in plan_day(facts, load_policy())
             if isinstance(p.payload, ClientEmailPlan)]
    assert {p.client_id for p in plans} == {cid for cid, e in expected.items() if e["to"]}
    pdfs = render_invoice_pdfs([(inv, p) for p in plans for inv in p.invoices], branding,
                               cache_dir=pdf_cache)

    for plan in plans:
        own = expected[plan.client_id]
        others = {t for cid, e in expected.items() if cid != plan.client_id for t in e["tranids"]}
        files = [(attachment_filename(inv, plan.language), pdfs[(inv.invoice_id,
                                                                  plan.message_key)])
                 for inv in plan.invoices]
        built = build_client_email(plan, render_client_email(plan, branding), files, branding,
                                   sent_at=_sent_at())
        message = message_from_bytes(built.as_bytes(), policy=email_policy.default)

        assert {a.addr_spec for a in message["To"].addresses} == own["to"]
        assert {a.addr_spec for a in message["Cc"].addresses} == own["cc"]
        assert message["Bcc"] is None
        assert {inv.tranid for inv in plan.invoices} == own["tranids"]
        text = body_text(message)
        assert not any(t in text for t in others)
        attached = attachments(message)
        assert len(attached) == len(plan.invoices)
        for (filename, pdf), invoice in zip(attached, plan.invoices):
            pdf_text = _pdf_text(pdf)
            assert invoice.tranid in filename and invoice.tranid in pdf_text
            assert own["name"] in pdf_text
            assert not any(t in pdf_text for t in others)


def _sent_at():
    from datetime import UTC, datetime

    return datetime(2026, 6, 16, 4, 0, tzinfo=UTC)


def test_the_ledger_file_holds_no_secret(secret_day):
    case = secret_day["case"]
    with duckdb.connect(case.session.duckdb_path, read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('ops', 'plan', 'render', 'marts')"
        ).fetchall()
        dump = "\n".join(
            json.dumps(con.execute(f'select * from "{s}"."{t}"').fetchall(), default=str)
            for s, t in tables
        )
    assert not any(secret in dump for secret in SECRETS.values())
    assert Path(case.session.duckdb_path).exists()
