"""The two sandbox datasets are what SPEC section 5 says, and the synthetic one is rich.

Protects the IBM replay mapping (counts, ids, dates, paid-on-SettledDate), and
the synthetic generator: deterministic, every currency with its minor units,
and a day that holds every case the run must handle (tiers 0-3, pre-due
invoices, exclusions, missing billing addresses, net credits).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from ar_assets.sandbox.ibm import load_ibm_ledger
from ar_assets.sandbox.ledger import SourceLedger, load_as_of
from ar_assets.sandbox.synthetic import generate_ledger

AS_OF = date(2026, 6, 16)


@pytest.fixture(scope="module")
def ibm() -> SourceLedger:
    return load_ibm_ledger()


@pytest.fixture(scope="module")
def synthetic() -> SourceLedger:
    return generate_ledger(400, AS_OF)


def test_ibm_replay_has_every_invoice_client_and_territory(ibm: SourceLedger) -> None:
    assert len(ibm.invoices) == 2466
    assert len(ibm.customers) == 100
    assert len(ibm.employees) == 5
    assert len(ibm.payments) == 2466
    assert {c.symbol for c in ibm.currencies} == {"USD"}
    assert {i.currency for i in ibm.invoices} == {1}
    assert sum(i.is_disputed for i in ibm.invoices) == 561
    due = {i.id: i.duedate for i in ibm.invoices}
    paid_late = [p for p in ibm.payments if p.trandate > due[p.applications[0].invoice_id]]
    assert len(paid_late) == 877  # data/README.md
    assert len({c.entityid for c in ibm.customers}) == 100
    assert all(c.role == "Billing" and c.email.endswith("@example.com") for c in ibm.contacts)
    assert Counter(c.company for c in ibm.contacts) == Counter({c.id: 1 for c in ibm.customers})
    assert {c.salesrep for c in ibm.customers} == {e.id for e in ibm.employees}


def test_ibm_known_row_maps_dates_amount_and_payment(ibm: SourceLedger) -> None:
    invoice = next(i for i in ibm.invoices if i.tranid == "0000611365")
    client = next(c for c in ibm.customers if c.id == invoice.entity)
    payment = next(p for p in ibm.payments if p.applications[0].invoice_id == invoice.id)

    assert client.entityid == "0379-NEVHP"
    assert (invoice.trandate, invoice.duedate) == (date(2013, 1, 2), date(2013, 2, 1))
    assert invoice.total == Decimal("55.94") and not invoice.is_disputed
    assert [(line.quantity, line.amount) for line in invoice.lines] == [(1, Decimal("55.94"))]
    assert (payment.trandate, payment.total) == (date(2013, 1, 15), Decimal("55.94"))


def test_ibm_invoice_is_open_before_settled_date_and_paid_on_it(ibm: SourceLedger) -> None:
    def state(as_of: date) -> list[tuple]:
        con = load_as_of(ibm, as_of)
        return con.execute("select status, foreignamountunpaid, closedate from transaction "
                           "where tranid = '0000611365'").fetchall()

    assert state(date(2013, 1, 1)) == []  # exists from InvoiceDate
    assert state(date(2013, 1, 14)) == [("A", Decimal("55.94"), None)]
    assert state(date(2013, 1, 15)) == [("B", Decimal("0"), date(2013, 1, 15))]


def test_synthetic_ledger_is_deterministic() -> None:
    first = generate_ledger(60, AS_OF)
    again = generate_ledger(60, AS_OF)
    other_seed = generate_ledger(60, AS_OF, seed=8)

    assert first == again
    assert first != other_seed


def test_synthetic_ledger_covers_every_currency_with_its_minor_units(
    synthetic: SourceLedger,
) -> None:
    symbols = {c.id: c.symbol for c in synthetic.currencies}
    minor = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}
    invoice_currencies = Counter(symbols[i.currency] for i in synthetic.invoices)

    assert set(invoice_currencies) == set(minor)
    for invoice in synthetic.invoices:
        assert -invoice.total.as_tuple().exponent <= minor[symbols[invoice.currency]]
        assert invoice.total == sum(line.amount for line in invoice.lines)
        assert all(line.amount == line.quantity * line.rate for line in invoice.lines)
    jpy_names = [c.companyname for c in synthetic.customers if symbols[c.currency] == "JPY"]
    assert all("株式会社" in name for name in jpy_names)


def test_synthetic_ledger_has_every_kind_of_client(synthetic: SourceLedger) -> None:
    customers = synthetic.customers
    billing = {k.company for k in synthetic.contacts if k.role == "Billing"}
    no_billing = [c for c in customers if c.id not in billing]

    assert len(synthetic.employees) == 16
    assert any(e.gchat_space for e in synthetic.employees)
    assert any(c.is_high_value for c in customers)
    assert any(c.manual_hold for c in customers)
    assert any(c.hold_until and c.hold_until > AS_OF for c in customers)
    assert any(c.email for c in no_billing) and any(not c.email for c in no_billing)
    assert {c.language for c in customers} >= {None, "en", "de", "fr", "es", "ja"}
    assert any(i.duedate is None for i in synthetic.invoices)
    assert any(i.is_disputed for i in synthetic.invoices)
    assert any(not p.applications for p in synthetic.payments)
    assert any(not m.applications for m in synthetic.credit_memos)
    applications = Counter(a.invoice_id for p in synthetic.payments for a in p.applications)
    assert any(n > 1 for n in applications.values())  # partial payments


def test_synthetic_day_yields_tiers_zero_to_three_and_predue_invoices(
    synthetic: SourceLedger,
) -> None:
    con = load_as_of(synthetic, AS_OF)
    offences = dict(con.execute("""
        select c.id, count(t.id)
        from customer c
        left join transaction t
          on t.entity = c.id and t.type = 'CustInvc' and t.duedate + 31 <= $as_of
         and t.duedate + 31 > $as_of - 365
         and (t.status = 'A' or t.closedate >= t.duedate + 31)
        group by c.id
    """.replace("$as_of", "DATE '2026-06-16'")).fetchall())
    late_payers_with_predue = con.execute("""
        select count(distinct t.entity)
        from transaction t
        where t.type = 'CustInvc' and t.status = 'A'
          and t.duedate between DATE '2026-06-16' and DATE '2026-06-26'
          and t.entity in (
            select entity from transaction
            where type = 'CustInvc' and closedate > duedate
              and closedate > DATE '2026-06-16' - 365)
    """).fetchone()[0]
    net_credit = con.execute("""
        select count(*) from (
          select entity,
                 sum(case when type = 'CustInvc' then foreignamountunpaid
                          else -foreignpaymentamountunused end) as net
          from transaction where status <> 'B' group by entity) where net < 0
    """).fetchone()[0]

    tiers = Counter(min(n, 3) for n in offences.values())
    assert all(tiers[tier] >= 10 for tier in range(4)), tiers
    assert late_payers_with_predue >= 5
    assert net_credit >= 5
