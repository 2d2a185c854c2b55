"""Gates before sends: a failing data test or gate blocks every send of the run, raises
one ops alert naming it, and the first run after the data is fixed sends normally."""

from __future__ import annotations

import copy
import json
from datetime import date

from ar_assets.sandbox.ledger import Currency, SourceTables
from tests.builders import LedgerBuilder

AS_OF = date(2026, 6, 16)


def _two_overdue_clients() -> LedgerBuilder:
    b = LedgerBuilder()
    for name in ("C31", "C32"):
        b.client(name, "EUR")
        b.invoice(name, f"INV-{name[1:]}01", "640.00", date(2026, 4, 20))
    return b


def _sends(case) -> dict[str, int]:
    internal = [m for m in case.jsonl("chat") if m["kind"] != "ops_alert"]
    return {
        "emails": len(case.emails()),
        "chat": len(internal),
        "hubspot": len(case.jsonl("hubspot")),
        "campaign": len(case.jsonl("campaign")),
    }


def _fix_source(case, ledger, as_of: date) -> None:
    """Replaces what the sandbox serves, as a corrected source would."""
    case.session.server.tables = SourceTables(ledger)
    case.session.server.set_clock(as_of)


def test_h13_a_failing_data_test_blocks_every_send(sandbox):
    b = _two_overdue_clients()
    b.client("C20", "EUR")
    b.invoice("C20", "INV-2001", "500.00", date(2026, 4, 1))
    b.invoice("C20", "INV-2001X", "750.00", date(2026, 4, 1))
    good = copy.deepcopy(b.build())
    bad = b.build()
    # The source returns INV-2001 twice, with different amounts.
    bad.invoices[-1].id = bad.invoices[-2].id
    bad.invoices[-1].tranid = "INV-2001"
    case = sandbox(bad)

    result = case.run(AS_OF, expect_success=False)
    assert not result.success
    assert _sends(case) == {"emails": 0, "chat": 0, "hubspot": 0, "campaign": 0}
    ops = [m for m in case.jsonl("chat") if m["kind"] == "ops_alert"]
    assert len(ops) == 1
    assert "unique" in json.dumps(ops[0]["body"])
    assert not case.ledger(status="delivered", kind="client_overdue")

    good.invoices.pop()  # the duplicate is gone at the source
    _fix_source(case, good, date(2026, 6, 17))
    case.run(date(2026, 6, 17))
    assert sorted(e["To"] for e in case.emails()) == [
        "ap@c20.test", "ap@c31.test", "ap@c32.test"
    ]
    assert len([m for m in case.jsonl("chat") if m["kind"] == "ops_alert"]) == 1


def test_an_amount_altered_on_the_wire_blocks_every_send_and_the_alert_says_by_how_much(
    sandbox,
):
    b = _two_overdue_clients()
    case = sandbox(b.build())
    server = case.session.server
    page = server._page

    def altered(request, columns, chunk, total, limit, offset):
        body = page(request, columns, chunk, total, limit, offset)
        for item in body["items"]:
            if item.get("tranid") == "INV-3101":
                item["foreignamountunpaid"] = "604.00"  # the source holds 640.00
        return body

    server._page = altered

    result = case.run(AS_OF, expect_success=False)

    assert not result.success
    assert _sends(case) == {"emails": 0, "chat": 0, "hubspot": 0, "campaign": 0}
    [ops] = [m for m in case.jsonl("chat") if m["kind"] == "ops_alert"]
    text = json.dumps(ops["body"])
    assert "open_ar_reconciles_with_source" in text
    assert ("open invoices EUR landed 1244.000000, source 1280.000000, "
            "difference -36.000000") in text


def test_an_invoice_in_an_unknown_currency_is_quarantined_and_the_batch_goes_on(sandbox):
    b = _two_overdue_clients()
    b.ledger.currencies.append(Currency(99, "XYZ", "Not a currency"))
    b.client("C33", "EUR")
    invoice_id = b.invoice("C33", "INV-3301", "100.00", date(2026, 4, 1))
    next(i for i in b.ledger.invoices if i.id == invoice_id).currency = 99
    case = sandbox(b.build())

    case.run(AS_OF)
    assert sorted(e["To"] for e in case.emails()) == ["ap@c31.test", "ap@c32.test"]
    [ops] = [m for m in case.jsonl("chat") if m["kind"] == "ops_alert"]
    assert "XYZ" in json.dumps(ops["body"])
    assert case.query(
        "select count(*) from marts.fct_open_invoices where currency_code = 'XYZ'"
    ) == [(0,)]


def test_with_approval_required_nothing_leaves_until_the_plan_is_approved(
    sandbox, tmp_path, monkeypatch
):
    from ar_assets.definitions import defs
    from ar_assets.policy import DEFAULT_POLICY_PATH

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        DEFAULT_POLICY_PATH.read_text().replace("require_approval: false", "require_approval: true")
    )
    monkeypatch.setenv("AR_POLICY_PATH", str(policy))
    case = sandbox(_two_overdue_clients().build())

    result = case.run(AS_OF, expect_success=False)
    assert not result.success
    assert _sends(case)["emails"] == 0
    planned = case.ledger(as_of=AS_OF, kind="client_overdue", status="planned")
    assert len(planned) == 2

    approve = defs.resolve_job_def("approve_plan")
    config = {"ops": {"record_approval": {"config": {"as_of": "2026-06-16",
                                                      "approved_by": "finance.lead"}}}}
    assert approve.execute_in_process(run_config=config).success
    case.run(AS_OF)
    assert sorted(e["To"] for e in case.emails()) == ["ap@c31.test", "ap@c32.test"]
