"""The SuiteQL client lands every row or fails loudly, naming the query.

Protects H07 (paging, totalResults check, narrowing past the 100,000-row
ceiling), retries on 429/5xx, a single retry on 401, NetSuite's error detail
on 400, and the host derived from the account id. Runs against the sandbox
server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ar_assets.land.queries import transactions_query
from ar_assets.land.suiteql import (
    IncompleteResultError,
    SuiteQLAuthError,
    SuiteQLClient,
    SuiteQLError,
    SuiteQLQuery,
    netsuite_base_url,
)
from ar_assets.sandbox.ledger import Currency, Customer, Employee, Invoice, SourceLedger
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox, SandboxCredentials
from ar_assets.sandbox.serve import serve_app

AS_OF = date(2026, 6, 16)
CREDS = SandboxCredentials()


def open_invoices_ledger(count: int) -> SourceLedger:
    """Returns a ledger of `count` open EUR invoices spread over ten clients."""
    ledger = SourceLedger(
        currencies=[Currency(1, "EUR", "Euro")],
        employees=[Employee(7, "Aiko", "Tanaka", "aiko@vendor.example")],
        customers=[Customer(100 + c, f"C{c}", f"Client {c}", None, 1, 7) for c in range(10)],
    )
    for i in range(count):
        trandate = date(2026, 3, 1) + timedelta(days=i % 90)
        ledger.invoices.append(
            Invoice(50_000 + i, f"INV-{i:05d}", 100 + i % 10, trandate,
                    trandate + timedelta(days=30), 1, Decimal(f"{i}.25"))
        )
    return ledger


@contextmanager
def running(count: int = 2345) -> Iterator[tuple[NetSuiteSandbox, str]]:
    sandbox = NetSuiteSandbox(open_invoices_ledger(count), AS_OF)
    with serve_app(sandbox.app) as base_url:
        yield sandbox, base_url


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[NetSuiteSandbox, str]]:
    with running() as pair:
        yield pair


@pytest.fixture(autouse=True)
def reset_sandbox(request) -> None:
    if "server" in request.fixturenames:
        sandbox, _ = request.getfixturevalue("server")
        sandbox.requests.clear()
        sandbox.faults.result_ceiling = 100_000
        sandbox.faults.drop_items = 0
        sandbox.faults.fail_statuses.clear()


def client_for(base_url: str, creds: SandboxCredentials = CREDS, **overrides) -> SuiteQLClient:
    return SuiteQLClient.with_token_auth(
        account_id=creds.account_id,
        consumer_key=creds.consumer_key,
        consumer_secret=creds.consumer_secret,
        token_id=creds.token_id,
        token_secret=creds.token_secret,
        base_url=base_url,
        backoff_seconds=0.01,
        backoff_max_seconds=0.05,
        **overrides,
    )


def test_host_is_derived_from_the_account_id() -> None:
    assert netsuite_base_url("1234567_SB1") == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert netsuite_base_url("TSTDRV42") == "https://tstdrv42.suitetalk.api.netsuite.com"


def test_h07_paging_returns_every_row(server) -> None:
    sandbox, base_url = server

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    ids = [row["id"] for row in result.rows]
    assert sandbox.query_counts()["transactions"] == 3
    assert [(r.limit, r.offset) for r in sandbox.requests] == [(1000, 0), (1000, 1000),
                                                               (1000, 2000)]
    assert len(ids) == len(set(ids)) == result.total_results == 2345
    assert sum(Decimal(row["foreigntotal"]) for row in result.rows) == sum(
        Decimal(f"{i}.25") for i in range(2345))


def test_h07_narrows_by_key_past_the_result_ceiling(server) -> None:
    sandbox, base_url = server
    sandbox.faults.result_ceiling = 1000

    with client_for(base_url, result_ceiling=1000) as client:
        result = client.fetch(transactions_query(AS_OF))

    ids = [int(row["id"]) for row in result.rows]
    assert ids == sorted(set(ids)) and len(ids) == 2345
    assert all(r.status == 200 for r in sandbox.requests)
    assert sandbox.query_counts()["transactions"] == 3


def test_h07_a_query_without_key_never_stops_silently_at_the_ceiling(server) -> None:
    sandbox, base_url = server
    sandbox.faults.result_ceiling = 2000
    query = SuiteQLQuery("all_invoices", "/* q:all_invoices */ SELECT t.id FROM transaction t "
                                         "ORDER BY t.id")

    with client_for(base_url, result_ceiling=2000) as client:
        with pytest.raises(IncompleteResultError, match="all_invoices: 2345 rows match"):
            client.fetch(query)


def test_rows_short_of_total_results_raise_naming_the_query(server) -> None:
    sandbox, base_url = server
    sandbox.faults.drop_items = 1

    with client_for(base_url) as client:
        with pytest.raises(IncompleteResultError, match="query transactions: received 2342 rows"):
            client.fetch(transactions_query(AS_OF))


def test_rate_limits_and_server_errors_are_retried(server) -> None:
    sandbox, base_url = server
    sandbox.faults.fail_statuses.extend([429, 503, 500])

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    assert len(result.rows) == 2345
    assert [r.status for r in sandbox.requests] == [429, 503, 500, 200, 200, 200]


def test_retries_give_up_after_the_last_attempt(server) -> None:
    sandbox, base_url = server
    sandbox.faults.fail_statuses.extend([503] * 3)

    with client_for(base_url, max_attempts=3) as client:
        with pytest.raises(SuiteQLError, match="transactions: HTTP 503"):
            client.fetch(transactions_query(AS_OF))
    assert len(sandbox.requests) == 3


def test_one_401_is_retried_with_a_fresh_nonce(server) -> None:
    sandbox, base_url = server
    sandbox.faults.fail_statuses.append(401)

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    assert len(result.rows) == 2345
    assert [r.status for r in sandbox.requests][:2] == [401, 200]


def test_wrong_credentials_fail_after_one_retry(server) -> None:
    sandbox, base_url = server
    wrong = SandboxCredentials(token_secret="not-the-secret")

    with client_for(base_url, wrong) as client:
        with pytest.raises(SuiteQLAuthError, match="refused the login"):
            client.fetch(transactions_query(AS_OF))

    assert [(r.status, r.reason) for r in sandbox.requests] == [(401, "signature mismatch")] * 2


def test_a_rejected_query_shows_netsuite_detail(server) -> None:
    _, base_url = server
    query = SuiteQLQuery("broken", "/* q:broken */ SELECT t.nosuchcolumn FROM transaction t")

    with client_for(base_url) as client:
        with pytest.raises(SuiteQLError, match="query broken: .*Invalid search query.*nosuch"):
            client.fetch(query)
