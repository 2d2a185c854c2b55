"""The sandbox NetSuite speaks the SuiteQL REST contract and answers as of its clock.

Protects: OAuth 1.0a verification (checked against oauthlib, an independent
implementation), the 400/401/429 error bodies, paging limits, string-only
values with the account's date preference, BUILTIN.CF/DF, and as-of state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import httpx
import oauthlib.oauth1 as oauth1
import pytest
from oauthlib.oauth1.rfc5849 import signature as oauthlib_signature

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
from ar_assets.sandbox.netsuite_server import (
    SUITEQL_PATH,
    NetSuiteSandbox,
    SandboxCredentials,
    hmac_sha256_signature,
    signature_base_string,
)
from ar_assets.sandbox.serve import serve_app

AS_OF = date(2026, 6, 16)
CREDS = SandboxCredentials()


def small_ledger() -> SourceLedger:
    """Two EUR invoices of C1 (one paid on 2026-06-16), a credit memo applied on 06-20,
    and an invoice with no due date."""
    d = date
    return SourceLedger(
        currencies=[Currency(1, "EUR", "Euro"), Currency(2, "JPY", "Japanese Yen")],
        employees=[Employee(7, "Aiko", "Tanaka", "aiko@vendor.example", "spaces/AAA")],
        customers=[
            Customer(101, "C1", "Acme GmbH", None, 1, 7, language="de"),
            Customer(102, "C2", "株式会社青葉商事", "keiri@aoba.test", 2, 7),
        ],
        contacts=[Contact(501, 101, "Ana", "Payable", "ap@acme.test", "Billing"),
                  Contact(502, 101, "Sam", "Seller", "sales@acme.test", "Sales")],
        invoices=[
            Invoice(1001, "INV-1001", 101, d(2026, 3, 4), d(2026, 4, 3), 1, Decimal("1000.00"),
                    [Line("SUB", "Subscription", Decimal(1), Decimal("1000.00"),
                          Decimal("1000.00"))]),
            Invoice(1002, "INV-1002", 101, d(2026, 5, 1), d(2026, 5, 31), 1, Decimal("0.10"),
                    is_disputed=True),
            Invoice(1003, "INV-1003", 102, d(2026, 5, 2), None, 2, Decimal("123456")),
        ],
        credit_memos=[CreditMemo(2001, "CM-2001", 101, d(2026, 6, 1), 1, Decimal("0.10"),
                                 [Application(1002, d(2026, 6, 20), Decimal("0.10"))])],
        payments=[Payment(3001, "PYT-3001", 101, d(2026, 6, 16), 1, Decimal("1000.00"),
                          [Application(1001, d(2026, 6, 16), Decimal("1000.00"))])],
    )


@contextmanager
def running(ledger: SourceLedger | None = None) -> Iterator[tuple[NetSuiteSandbox, str]]:
    sandbox = NetSuiteSandbox(ledger or small_ledger(), AS_OF)
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
        sandbox.set_clock(AS_OF)
        sandbox.faults.date_format = "M/D/YYYY"
        sandbox.faults.delay_seconds = 0.0


def oauthlib_headers(url: str, creds: SandboxCredentials = CREDS, **client_args) -> dict:
    """Signs a POST with oauthlib (independent of the server's own signing code)."""
    client = oauth1.Client(
        creds.consumer_key,
        client_secret=creds.consumer_secret,
        resource_owner_key=creds.token_id,
        resource_owner_secret=creds.token_secret,
        signature_method=oauth1.SIGNATURE_HMAC_SHA256,
        realm=creds.account_id,
        **client_args,
    )
    _, headers, _ = client.sign(url, http_method="POST")
    return {**headers, "Prefer": "transient", "Content-Type": "application/json"}


def post(base_url: str, q: str, limit: int = 1000, offset: int = 0, sign_url: str | None = None,
         headers: dict | None = None, **client_args) -> httpx.Response:
    url = f"{base_url}{SUITEQL_PATH}?limit={limit}&offset={offset}"
    headers = headers if headers is not None else oauthlib_headers(sign_url or url, **client_args)
    return httpx.post(url, headers=headers, content=json.dumps({"q": q}), timeout=30)


def test_signature_helpers_match_oauthlib_on_a_fixed_vector() -> None:
    uri = "http://127.0.0.1:8811/services/rest/query/v1/suiteql"
    params = [("oauth_consumer_key", "ck 1"), ("oauth_token", "tk/1"),
              ("oauth_signature_method", "HMAC-SHA256"), ("oauth_timestamp", "1767225600"),
              ("oauth_nonce", "q8ZrT1mw"), ("oauth_version", "1.0"),
              ("limit", "500"), ("offset", "0")]

    ours = signature_base_string("post", uri, params)
    theirs = oauthlib_signature.signature_base_string(
        "POST", oauthlib_signature.base_string_uri(uri),
        oauthlib_signature.normalize_parameters(params))

    assert ours == theirs
    assert "limit%3D500" in ours and "%2520" in ours  # query params in, space as %20
    secrets = oauth1.Client("ck 1", client_secret="c+secret", resource_owner_secret="t&secret")
    assert hmac_sha256_signature(ours, "c+secret", "t&secret") == (
        oauthlib_signature.sign_hmac_sha256_with_client(theirs, secrets))


def test_request_signed_by_oauthlib_is_answered_with_string_values(server) -> None:
    _, base_url = server
    response = post(base_url, "SELECT t.id, t.foreigntotal, t.trandate, t.duedate, "
                              "t.custbody_ar_disputed FROM transaction t "
                              "WHERE t.type = 'CustInvc' ORDER BY t.id")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3 and body["totalResults"] == 3 and body["hasMore"] is False
    first, second, third = body["items"]
    assert first == {"links": [], "id": "1001", "foreigntotal": "1000", "trandate": "3/4/2026",
                     "duedate": "4/3/2026", "custbody_ar_disputed": "F"}
    assert second["foreigntotal"] == "0.1" and second["custbody_ar_disputed"] == "T"
    assert "duedate" not in third  # nulls are omitted


@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [
        ("wrong_secret", "signature mismatch"),
        ("unsigned_query_params", "signature mismatch"),
        ("wrong_realm", "wrong realm"),
        ("unknown_token", "unknown consumer or token"),
        ("stale_timestamp", "timestamp outside the window"),
        ("no_header", "missing Authorization header"),
    ],
)
def test_bad_credentials_get_401_invalid_login(server, case: str, expected_reason: str) -> None:
    sandbox, base_url = server
    url = f"{base_url}{SUITEQL_PATH}"
    kwargs: dict = {}
    if case == "wrong_secret":
        kwargs["creds"] = SandboxCredentials(consumer_secret="guess")
    elif case == "unsigned_query_params":
        kwargs["sign_url"] = url
    elif case == "wrong_realm":
        kwargs["creds"] = SandboxCredentials(account_id="1234567_sb1")
    elif case == "unknown_token":
        kwargs["creds"] = SandboxCredentials(token_id="other-token")
    elif case == "stale_timestamp":
        kwargs["timestamp"] = str(int(time.time()) - 301)
    elif case == "no_header":
        kwargs["headers"] = {"Prefer": "transient"}

    response = post(base_url, "SELECT id FROM currency ORDER BY id", **kwargs)

    assert response.status_code == 401
    body = response.json()
    assert body["title"] == "Unauthorized" and body["status"] == 401
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert "Login Audit Trail" in body["o:errorDetails"][0]["detail"]
    assert sandbox.requests[-1].reason == expected_reason


def test_a_nonce_is_accepted_once(server) -> None:
    sandbox, base_url = server
    nonce = f"nonce{time.time_ns()}"

    first = post(base_url, "SELECT id FROM currency ORDER BY id", nonce=nonce)
    second = post(base_url, "SELECT id FROM currency ORDER BY id", nonce=nonce)

    assert first.status_code == 200
    assert second.status_code == 401
    assert sandbox.requests[-1].reason.startswith("nonce reused")


def test_prefer_transient_is_required(server) -> None:
    _, base_url = server
    url = f"{base_url}{SUITEQL_PATH}?limit=10&offset=0"
    headers = oauthlib_headers(url)
    del headers["Prefer"]

    response = post(base_url, "SELECT id FROM currency ORDER BY id", 10, headers=headers)

    assert response.status_code == 400
    assert response.json()["o:errorDetails"][0]["o:errorHeader"] == "Prefer"


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (1001, 0), (10, 5), (1000, 100_000)])
def test_paging_parameters_out_of_contract_get_400(server, limit: int, offset: int) -> None:
    _, base_url = server

    response = post(base_url, "SELECT id FROM currency ORDER BY id", limit, offset)

    assert response.status_code == 400
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_PARAMETER"


def test_unknown_column_gives_invalid_parameter_with_the_search_error(server) -> None:
    _, base_url = server

    response = post(base_url, "SELECT t.foo FROM transaction t")

    assert response.status_code == 400
    detail = response.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_PARAMETER" and detail["o:errorQueryParam"] == "q"
    assert detail["detail"].startswith("Invalid search query.") and "foo" in detail["detail"]


def test_pages_carry_links_and_count_against_total(server) -> None:
    _, base_url = server
    q = "SELECT t.id FROM transaction t ORDER BY t.id"

    pages = [post(base_url, q, 2, offset).json() for offset in (0, 2, 4)]

    assert [p["count"] for p in pages] == [2, 2, 1]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    assert {p["totalResults"] for p in pages} == {5}
    assert [i["id"] for p in pages for i in p["items"]] == ["1001", "1002", "1003", "2001",
                                                            "3001"]
    rels = {link["rel"]: link["href"] for link in pages[0]["links"]}
    assert rels["next"].endswith("?limit=2&offset=2")
    assert rels["last"].endswith("?limit=2&offset=4")


def test_builtin_functions_and_iso_dates_under_either_preference(server) -> None:
    sandbox, base_url = server
    q = ("SELECT t.id, BUILTIN.CF(t.status) AS status_code, BUILTIN.DF(t.status) AS label, "
         "TO_CHAR(t.trandate, 'YYYY-MM-DD') AS iso, t.trandate, BUILTIN.DF(t.currency) AS cur, "
         "BUILTIN.DF(t.entity) AS client FROM transaction t WHERE t.id = 1001")

    us = post(base_url, q).json()["items"][0]
    sandbox.faults.date_format = "DD/MM/YYYY"
    eu = post(base_url, q).json()["items"][0]

    assert us["status_code"] == "CustInvc:B" and us["label"] == "Paid In Full"
    assert us["cur"] == "Euro" and us["client"] == "Acme GmbH"
    assert (us["trandate"], eu["trandate"]) == ("3/4/2026", "04/03/2026")
    assert us["iso"] == eu["iso"] == "2026-03-04"


def test_contact_role_display_name(server) -> None:
    _, base_url = server

    items = post(base_url, "SELECT ct.id, BUILTIN.DF(ct.contactrole) AS role "
                           "FROM contact ct ORDER BY ct.id").json()["items"]

    assert [i["role"] for i in items] == ["Billing", "Sales"]


def test_as_of_an_invoice_paid_on_d_is_open_the_day_before(server) -> None:
    sandbox, base_url = server
    q = ("SELECT BUILTIN.CF(t.status) AS status_code, t.foreignamountunpaid, "
         "TO_CHAR(t.closedate, 'YYYY-MM-DD') AS closedate FROM transaction t WHERE t.id = 1001")

    sandbox.set_clock(date(2026, 6, 15))
    before = post(base_url, q).json()["items"][0]
    sandbox.set_clock(date(2026, 6, 16))
    on = post(base_url, q).json()["items"][0]

    assert before == {"links": [], "status_code": "CustInvc:A", "foreignamountunpaid": "1000"}
    assert on == {"links": [], "status_code": "CustInvc:B", "foreignamountunpaid": "0",
                  "closedate": "2026-06-16"}


def test_as_of_a_credit_memo_applied_later_is_unapplied_before(server) -> None:
    sandbox, base_url = server
    q = ("SELECT t.id, t.foreigntotal, t.foreignpaymentamountunused, BUILTIN.CF(t.status) AS s "
         "FROM transaction t WHERE t.type = 'CustCred' ORDER BY t.id")

    none_yet = post(base_url, q).json()["items"]  # as of 06-16; the memo is dated 06-01
    httpx.put(f"{base_url}/_sandbox/clock", json={"as_of": "2026-05-31"}).raise_for_status()
    before_issue = post(base_url, q).json()["items"]
    httpx.put(f"{base_url}/_sandbox/clock", json={"as_of": "2026-06-20"}).raise_for_status()
    applied = post(base_url, q).json()["items"]

    assert none_yet[0]["foreignpaymentamountunused"] == "0.1" and none_yet[0]["s"] == "CustCred:A"
    assert none_yet[0]["foreigntotal"] == "-0.1"
    assert before_issue == []
    assert applied[0]["foreignpaymentamountunused"] == "0" and applied[0]["s"] == "CustCred:B"


def test_more_requests_in_flight_than_the_limit_get_429(server) -> None:
    sandbox, base_url = server
    sandbox.faults.delay_seconds = 0.5
    statuses: list[int] = []

    def one() -> None:
        statuses.append(post(base_url, "SELECT id FROM currency ORDER BY id").status_code)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 200, 429]
    assert [r.reason for r in sandbox.requests[-3:]].count("concurrency limit") == 1


def test_faults_endpoint_switches_the_date_preference(server) -> None:
    _, base_url = server

    response = httpx.put(f"{base_url}/_sandbox/faults", json={"date_format": "DD/MM/YYYY"})
    item = post(base_url, "SELECT t.trandate FROM transaction t WHERE t.id = 1002").json()

    assert response.json()["date_format"] == "DD/MM/YYYY"
    assert item["items"][0]["trandate"] == "01/05/2026"
    assert httpx.put(f"{base_url}/_sandbox/faults", json={"nope": 1}).status_code == 400


def test_a_fault_of_the_wrong_type_is_refused_and_changes_nothing(server) -> None:
    sandbox, base_url = server

    refused = httpx.put(f"{base_url}/_sandbox/faults",
                        json={"fail_statuses": "429", "lying_has_more": [7]})
    not_an_object = httpx.put(f"{base_url}/_sandbox/faults", content=b"[1]")

    assert refused.status_code == 400
    assert "fail_statuses: Input should be a valid list" in refused.json()["error"]
    assert not_an_object.status_code == 400
    assert sandbox.faults.fail_statuses == []
    assert sandbox.faults.lying_has_more == []  # nothing of the refused change was set
