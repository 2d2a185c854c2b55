"""The SuiteQL client lands every row or fails loudly, naming the query and window.

Protects H07 (paging, totalResults check, narrowing past the ceiling), the
concurrency cap, retries on 429 bursts, 5xx and slow pages, a single retry on
401 (an injected one and a refused nonce replay), a lying hasMore, NetSuite's
error detail on 400, schema drift, rows out of order, a row returned twice, the
signature against oauthlib, and the host and realm derived from the account id.
Runs against the sandbox server on 127.0.0.1 with each fault switched on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import authlib.oauth1.rfc5849.client_auth as authlib_client_auth
import oauthlib.oauth1 as oauth1
import pytest

from ar_assets.land.auth import TokenBasedAuth, netsuite_base_url, netsuite_realm
from ar_assets.land.queries import currencies_query, customers_query, transactions_query
from ar_assets.land.resources import netsuite_resource_from_env
from ar_assets.land.suiteql import (
    IncompleteResultError,
    SchemaDriftError,
    SuiteQLAuthError,
    SuiteQLClient,
    SuiteQLError,
    SuiteQLQuery,
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
        deadline = time.monotonic() + 5
        while sandbox.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)  # a timed-out request may still be sleeping in the server
        sandbox.requests.clear()
        sandbox.max_in_flight = 0
        sandbox.faults.__init__()


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


def test_host_and_realm_are_derived_from_the_account_id() -> None:
    assert netsuite_base_url("1234567_SB1") == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert netsuite_base_url("TSTDRV42") == "https://tstdrv42.suitetalk.api.netsuite.com"
    assert netsuite_realm("1234567_SB1") == netsuite_realm("1234567-sb1") == "1234567_SB1"


def test_the_signature_equals_oauthlibs_for_the_same_nonce_and_time(monkeypatch) -> None:
    monkeypatch.setattr(authlib_client_auth, "generate_nonce", lambda: "q8ZrT1mwXy")
    monkeypatch.setattr(authlib_client_auth, "generate_timestamp", lambda: "1767225600")
    url = "http://127.0.0.1:8811/services/rest/query/v1/suiteql?limit=1000&offset=2000"
    ours = TokenBasedAuth("1234567-sb1", "ck 1", "c+secret", "tk/1", "t&secret")

    header = ours.authorization("POST", url)

    reference = oauth1.Client(
        "ck 1", client_secret="c+secret", resource_owner_key="tk/1",
        resource_owner_secret="t&secret", signature_method=oauth1.SIGNATURE_HMAC_SHA256,
        realm="1234567_SB1", nonce="q8ZrT1mwXy", timestamp="1767225600",
    )
    _, headers, _ = reference.sign(url, http_method="POST")
    ours_params = parse_header(header)
    theirs = parse_header(headers["Authorization"])
    assert ours_params["oauth_signature"] == theirs["oauth_signature"]
    assert ours_params["realm"] == "1234567_SB1"
    assert "limit" not in ours_params and "oauth_body_hash" not in ours_params


def parse_header(header: str) -> dict[str, str]:
    from ar_assets.sandbox.netsuite_auth import parse_oauth_header

    return parse_oauth_header(header)


def test_h07_paging_returns_every_row(server) -> None:
    sandbox, base_url = server

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    ids = [row["id"] for row in result.rows]
    assert sandbox.query_counts()["transactions"] == 3
    assert sorted((r.limit, r.offset) for r in sandbox.requests) == [(1000, 0), (1000, 1000),
                                                                     (1000, 2000)]
    assert result.requests == 3
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


def test_the_next_window_starts_while_the_previous_windows_pages_are_still_coming(
    server,
) -> None:
    sandbox, base_url = server
    sandbox.faults.result_ceiling = 1000
    sandbox.faults.delay_seconds = 0.05

    with client_for(base_url, page_size=100, result_ceiling=1000) as client:
        result = client.fetch(transactions_query(AS_OF))

    ids = [int(row["id"]) for row in result.rows]
    assert ids == sorted(set(ids)) and len(ids) == 2345 and result.windows == 3
    offsets = [r.offset for r in sandbox.requests if r.query == "transactions"]
    # Window 1 reads its first page, then its last (900), and window 2's first
    # page goes out before window 1's middle pages are all asked for.
    assert offsets[:2] == [0, 900]
    second_window_starts = offsets.index(0, 1)
    assert second_window_starts < offsets.index(800)
    assert sandbox.max_in_flight == 2
    assert len(offsets) == result.requests


def test_h07_a_query_without_key_never_stops_silently_at_the_ceiling(server) -> None:
    sandbox, base_url = server
    sandbox.faults.result_ceiling = 2000
    query = SuiteQLQuery("all_invoices", "/* q:all_invoices */ SELECT t.id FROM transaction t "
                                         "ORDER BY t.id")

    with client_for(base_url, result_ceiling=2000) as client:
        with pytest.raises(IncompleteResultError, match="all_invoices: 2345 rows match"):
            client.fetch(query)


def test_rows_out_of_their_declared_order_fail_naming_the_row(server) -> None:
    _, base_url = server
    query = SuiteQLQuery("descending", "/* q:descending */ SELECT t.id FROM transaction t "
                                       "ORDER BY t.id DESC", order=("id",))

    with client_for(base_url) as client:
        with pytest.raises(IncompleteResultError,
                           match="query descending: rows out of order at id=52343; paging "
                                 "would skip or duplicate rows"):
            client.fetch(query)


def test_a_row_the_source_returns_twice_lands_twice_with_a_warning(server, caplog) -> None:
    _, base_url = server
    query = SuiteQLQuery(
        "doubled", "/* q:doubled */ SELECT u.id FROM (SELECT t.id FROM transaction t UNION ALL "
                   "SELECT t.id FROM transaction t WHERE t.id = 50007) u ORDER BY u.id",
        order=("id",))

    with client_for(base_url) as client:
        result = client.fetch(query)

    assert len(result.rows) == 2346
    assert "query doubled: the source returned id=50007 twice" in caplog.text


def test_rows_short_of_total_results_fail_naming_the_query_and_window(server) -> None:
    sandbox, base_url = server
    sandbox.faults.drop_items = 1

    with client_for(base_url) as client:
        with pytest.raises(IncompleteResultError,
                           match=r"query transactions, window 1 \(id > -1\): page at offset "
                                 r"\d+ holds 999 rows, expected 1000 of totalResults 2345"):
            client.fetch(transactions_query(AS_OF))


def test_pages_in_flight_never_exceed_the_configured_concurrency(server) -> None:
    sandbox, base_url = server
    sandbox.faults.delay_seconds = 0.05
    sandbox.faults.concurrency_limit = 3

    with client_for(base_url, concurrency=2) as client:
        result = client.fetch(transactions_query(AS_OF))

    assert len(result.rows) == 2345
    assert sandbox.max_in_flight == 2
    assert {r.status for r in sandbox.requests} == {200}


@pytest.mark.parametrize(("value", "expected"), [(None, 2), ("3", 3), (" 1 ", 1)])
def test_the_concurrency_is_set_from_the_environment(monkeypatch, value, expected) -> None:
    if value is None:
        monkeypatch.delenv("NETSUITE_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("NETSUITE_CONCURRENCY", value)

    assert netsuite_resource_from_env(sandbox=True).concurrency == expected


def test_a_client_without_a_single_slot_is_refused_rather_than_left_waiting() -> None:
    with pytest.raises(ValueError, match="the concurrency must be at least 1, got 0"):
        client_for("http://127.0.0.1:9", concurrency=0)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_concurrency_that_is_not_a_positive_count_is_refused(monkeypatch, value) -> None:
    monkeypatch.setenv("NETSUITE_CONCURRENCY", value)

    with pytest.raises(ValueError, match=f"NETSUITE_CONCURRENCY must be a whole number of at "
                                         f"least 1, got '{value}'"):
        netsuite_resource_from_env(sandbox=True)


def test_a_429_burst_and_server_errors_are_retried_until_every_row_lands(server) -> None:
    sandbox, base_url = server
    sandbox.faults.fail_statuses.extend([429] * 3 + [503, 500])

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    ids = {row["id"] for row in result.rows}
    assert len(result.rows) == len(ids) == 2345
    statuses = [r.status for r in sandbox.requests]
    assert statuses.count(429) == 3 and statuses.count(503) == statuses.count(500) == 1
    assert statuses.count(200) == 3


def test_a_slow_page_times_out_and_is_fetched_again(server, caplog) -> None:
    sandbox, base_url = server
    sandbox.faults.slow_seconds.append(2.0)

    with client_for(base_url, timeout=0.5) as client:
        result = client.fetch(transactions_query(AS_OF))

    assert len({row["id"] for row in result.rows}) == 2345
    assert sandbox.query_counts()["transactions"] >= 4  # the slow page was asked for again
    assert any("query transactions, window 1 (id > -1): attempt 1 at offset 0 failed "
               "(ReadTimeout); retrying" in r.getMessage() for r in caplog.records)


def test_by_default_the_client_waits_as_long_as_netsuite_lets_a_request_run() -> None:
    # A request given up sooner would keep one of the account's slots busy at NetSuite.
    assert client_for("http://127.0.0.1:9").timeout >= 15 * 60


def test_retries_give_up_after_the_last_attempt(server) -> None:
    sandbox, base_url = server
    sandbox.faults.fail_statuses.extend([503] * 3)

    with client_for(base_url, max_attempts=3) as client:
        with pytest.raises(SuiteQLError, match=r"query transactions, window 1 .*HTTP 503"):
            client.fetch(transactions_query(AS_OF))
    assert len(sandbox.requests) == 3


def test_one_401_is_retried_with_a_fresh_nonce(server) -> None:
    sandbox, base_url = server
    sandbox.faults.fail_statuses.append(401)

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    assert len(result.rows) == 2345
    assert [r.status for r in sandbox.requests][:2] == [401, 200]


def test_a_nonce_refused_as_replayed_is_signed_again_once(server) -> None:
    sandbox, base_url = server
    sandbox.faults.reused_nonces = 1

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    assert len(result.rows) == 2345
    assert [(r.status, r.reason) for r in sandbox.requests[:2]] == [
        (401, "nonce reused or shorter than 6 characters"), (200, "")]


@pytest.mark.parametrize("offset", [1000, 2000], ids=["says-no-more-early", "says-more-at-end"])
def test_a_page_whose_has_more_lies_changes_nothing(server, offset: int) -> None:
    sandbox, base_url = server
    sandbox.faults.lying_has_more.append(offset)

    with client_for(base_url) as client:
        result = client.fetch(transactions_query(AS_OF))

    assert len({row["id"] for row in result.rows}) == 2345
    probes = 1 if offset == 2000 else 0  # the page past the end is asked for, and empty
    assert sandbox.query_counts()["transactions"] == 3 + probes


def test_wrong_credentials_fail_after_one_retry(server) -> None:
    sandbox, base_url = server
    wrong = SandboxCredentials(token_secret="not-the-secret")

    with client_for(base_url, wrong) as client:
        with pytest.raises(SuiteQLAuthError, match="refused the login"):
            client.fetch(transactions_query(AS_OF))

    assert [(r.status, r.reason) for r in sandbox.requests] == [(401, "signature mismatch")] * 2


def test_one_failing_query_stops_the_others_and_leaves_no_stray_errors(server, caplog) -> None:
    sandbox, base_url = server
    wrong = SandboxCredentials(token_secret="not-the-secret")
    queries = [transactions_query(AS_OF), customers_query(), currencies_query()]

    with client_for(base_url, wrong) as client:
        with pytest.raises(SuiteQLAuthError, match="refused the login"):
            client.fetch_all(queries)
    asked = len(sandbox.requests)
    time.sleep(0.3)

    assert len(sandbox.requests) == asked <= 2 * len(queries)
    assert sandbox.in_flight == 0
    assert not [r for r in caplog.records if r.name == "asyncio"]


def test_a_removed_column_fails_naming_the_column_and_the_query(server) -> None:
    sandbox, base_url = server
    sandbox.faults.drop_columns.append("custbody_ar_disputed")

    with client_for(base_url) as client:
        with pytest.raises(SchemaDriftError,
                           match="query transactions.*column 'custbody_ar_disputed' is unknown"):
            client.fetch(transactions_query(AS_OF))


def test_a_rejected_query_shows_netsuite_detail(server) -> None:
    _, base_url = server
    query = SuiteQLQuery("broken", "/* q:broken */ SELECT t.nosuchcolumn FROM transaction t")

    with client_for(base_url) as client:
        with pytest.raises(SuiteQLError, match="query broken: .*Invalid search query.*nosuch"):
            client.fetch(query)
