"""OAuth 2.0 client credentials against the sandbox NetSuite, and secrets kept out of logs.

Protects contract 1.7: a JWT signed with PS256 or ES256 (kid = certificate id,
iss = client id, aud = the token URL, scope rest_webservices) is exchanged for
a bearer token that serves every page until it nears expiry; a refused token
is replaced once; a refused assertion fails with NetSuite's error code. And no
credential of either method appears in any log line, at any level.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ar_assets.land.auth import ClientCredentialsAuth, NetSuiteAuthError, token_url_for
from ar_assets.land.queries import transactions_query
from ar_assets.land.suiteql import SuiteQLClient
from ar_assets.sandbox.ledger import Currency, Customer, Employee, Invoice, SourceLedger
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox, SandboxCredentials
from ar_assets.sandbox.serve import serve_app

AS_OF = date(2026, 6, 16)


def ledger(count: int = 1500) -> SourceLedger:
    """`count` open EUR invoices of one client: two pages."""
    return SourceLedger(
        currencies=[Currency(1, "EUR", "Euro")],
        employees=[Employee(7, "Aiko", "Tanaka", "aiko@vendor.example")],
        customers=[Customer(100, "C1", "Client 1", None, 1, 7)],
        invoices=[Invoice(10_000 + i, f"INV-{i}", 100, date(2026, 5, 1),
                          date(2026, 5, 31), 1, Decimal(f"{i}.10")) for i in range(count)],
    )


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module", params=["ES256", "PS256"])
def server(request) -> Iterator[tuple[NetSuiteSandbox, str, str]]:
    algorithm = request.param
    creds = SandboxCredentials() if algorithm == "ES256" else SandboxCredentials(
        private_key_pem=rsa_pem())
    sandbox = NetSuiteSandbox(ledger(), AS_OF, credentials=creds)
    with serve_app(sandbox.app) as base_url:
        yield sandbox, base_url, algorithm


def m2m_auth(sandbox: NetSuiteSandbox, base_url: str, algorithm: str,
             **overrides) -> ClientCredentialsAuth:
    creds = sandbox.credentials
    options = {"client_id": creds.client_id, "certificate_id": creds.certificate_id,
               "private_key_pem": creds.private_key_pem, "algorithm": algorithm, **overrides}
    return ClientCredentialsAuth(token_url_for(base_url), **options)


def fetch(base_url: str, auth) -> list[dict]:
    client = SuiteQLClient(base_url, auth, backoff_seconds=0.01, backoff_max_seconds=0.05)
    return client.fetch(transactions_query(AS_OF)).rows


def test_a_signed_jwt_buys_one_bearer_token_for_every_page(server) -> None:
    sandbox, base_url, algorithm = server
    sandbox.requests.clear()
    auth = m2m_auth(sandbox, base_url, algorithm)

    rows = fetch(base_url, auth)
    rows_again = fetch(base_url, auth)

    assert len({r["id"] for r in rows}) == len(rows_again) == 1500
    assert sum(Decimal(r["foreigntotal"]) for r in rows) == sum(
        Decimal(f"{i}.10") for i in range(1500))
    assert auth.tokens_fetched == 1
    assert {(r.auth, r.status) for r in sandbox.requests} == {("bearer", 200)}


def test_a_token_near_expiry_is_replaced_before_use(server) -> None:
    sandbox, base_url, algorithm = server
    auth = m2m_auth(sandbox, base_url, algorithm)

    fetch(base_url, auth)
    lifetime = auth._expires_at - time.time()
    auth._expires_at = time.time() + 30  # inside the 60-second renewal margin
    fetch(base_url, auth)

    assert 3590 < lifetime <= 3600  # "expires_in": "3600" arrives as a string
    assert auth.tokens_fetched == 2


def test_a_refused_bearer_token_is_replaced_once(server) -> None:
    sandbox, base_url, algorithm = server
    auth = m2m_auth(sandbox, base_url, algorithm)
    fetch(base_url, auth)
    sandbox.requests.clear()
    sandbox.authority._tokens.clear()  # as if NetSuite revoked it

    rows = fetch(base_url, auth)

    assert len(rows) == 1500
    assert auth.tokens_fetched == 2
    assert [r.status for r in sandbox.requests][0] == 401


@pytest.mark.parametrize("override", ["certificate_id", "client_id", "private_key_pem"])
def test_a_refused_assertion_fails_with_netsuites_error_and_no_secret(server, override) -> None:
    sandbox, base_url, algorithm = server
    wrong = {"certificate_id": "other-cert", "client_id": "other-client",
             "private_key_pem": SandboxCredentials().private_key_pem if algorithm == "ES256"
             else rsa_pem()}
    auth = m2m_auth(sandbox, base_url, algorithm, **{override: wrong[override]})

    with pytest.raises(NetSuiteAuthError, match="invalid_client") as raised:
        fetch(base_url, auth)

    assert "PRIVATE KEY" not in str(raised.value) and "BEGIN" not in str(raised.value)


def test_no_credential_appears_in_any_log(server, caplog) -> None:
    sandbox, base_url, algorithm = server
    creds = sandbox.credentials
    caplog.set_level(logging.DEBUG)
    sandbox.faults.fail_statuses.extend([401, 429])
    tba = SuiteQLClient.with_token_auth(
        creds.account_id, creds.consumer_key, creds.consumer_secret, creds.token_id,
        creds.token_secret, base_url=base_url, backoff_seconds=0.01)
    auth = m2m_auth(sandbox, base_url, algorithm)

    tba.fetch(transactions_query(AS_OF))
    fetch(base_url, auth)

    logged = caplog.text + repr(auth) + repr(tba.auth)
    secrets = [creds.consumer_secret, creds.token_secret, auth._token,
               creds.private_key_pem.splitlines()[1], "oauth_signature", "Bearer "]
    assert caplog.records, "the fetches should have logged"
    assert [s for s in secrets if s and s in logged] == []


def test_assertion_lifetime_and_claims_follow_the_contract(server) -> None:
    sandbox, base_url, algorithm = server
    from joserfc import jwt

    auth = m2m_auth(sandbox, base_url, algorithm)
    token = jwt.decode(auth.client_assertion(), auth._key, algorithms=[algorithm])

    assert token.header == {"alg": algorithm, "typ": "JWT",
                            "kid": sandbox.credentials.certificate_id}
    claims = token.claims
    assert claims["iss"] == sandbox.credentials.client_id
    assert claims["aud"] == f"{base_url}/services/rest/auth/oauth2/v1/token"
    assert claims["scope"] == "rest_webservices"
    assert timedelta(seconds=claims["exp"] - claims["iat"]) <= timedelta(hours=1)
