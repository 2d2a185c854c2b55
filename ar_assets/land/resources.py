"""The NetSuite resource: account, credentials, load settings and the sandbox switch.

Credentials come only from environment variables, passed through
`dagster.EnvVar` (read at run time, masked in the UI, never logged):

- NETSUITE_ACCOUNT_ID        account id, e.g. 1234567_SB1; the REST host
                             (1234567-sb1.suitetalk.api.netsuite.com) and the
                             OAuth realm (1234567_SB1) are derived from it
- NETSUITE_AUTH_METHOD       `tba` (default) or `client_credentials`

Token-based auth (OAuth 1.0a, HMAC-SHA256):

- NETSUITE_CONSUMER_KEY      integration record's consumer key
- NETSUITE_CONSUMER_SECRET   integration record's consumer secret
- NETSUITE_TOKEN_ID          access token id
- NETSUITE_TOKEN_SECRET      access token secret

OAuth 2.0 client credentials (a JWT signed with the certificate's private key):

- NETSUITE_CLIENT_ID         integration record's client id
- NETSUITE_CERTIFICATE_ID    certificate id of the M2M mapping (the JWT's kid)
- NETSUITE_PRIVATE_KEY_PATH  PEM file of the certificate's private key
- NETSUITE_JWT_ALGORITHM     optional; PS256 (default, RSA key) or ES256 (EC key)

- NETSUITE_BASE_URL          optional; overrides the host derived from the account
                             id (the sandbox server's URL in sandbox mode)
- NETSUITE_CONCURRENCY       optional; SuiteQL requests in flight at once (default
                             2). The account's limit is shared with every other
                             integration, so keep this below it.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from dagster import ConfigurableResource, EnvVar

from ar_assets.land.auth import (
    ClientCredentialsAuth,
    TokenBasedAuth,
    netsuite_base_url,
    token_url_for,
)
from ar_assets.land.landing import LoadSettings
from ar_assets.land.suiteql import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_SECONDS, SuiteQLClient

AUTH_METHODS = ("tba", "client_credentials")
# One token cache per process: a bearer token serves every run until it expires.
_TOKEN_CACHE: dict[tuple[str, ...], ClientCredentialsAuth] = {}


class NetSuiteResource(ConfigurableResource):
    """A NetSuite account reached over SuiteQL REST, or the loopback sandbox."""

    account_id: str
    base_url: str = ""
    auth_method: str = "tba"
    consumer_key: str = ""
    consumer_secret: str = ""
    token_id: str = ""
    token_secret: str = ""
    client_id: str = ""
    certificate_id: str = ""
    private_key_path: str = ""
    jwt_algorithm: str = "PS256"
    sandbox: bool = True
    concurrency: int = DEFAULT_CONCURRENCY
    full_snapshot_every_days: int = 7
    lookback_hours: int = 24
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def resolved_base_url(self) -> str:
        """Returns the base URL: the override if set, else the account's REST host."""
        # Read at run time, so a process can point at a sandbox started after import.
        override = self.base_url or os.environ.get("NETSUITE_BASE_URL", "")
        if override:
            return override.rstrip("/")
        if self.sandbox:
            raise ValueError("sandbox mode needs NETSUITE_BASE_URL (the sandbox server's URL)")
        return netsuite_base_url(self.account_id)

    def load_settings(self) -> LoadSettings:
        return LoadSettings(self.full_snapshot_every_days, self.lookback_hours)

    def auth(self) -> httpx.Auth:
        """Returns the auth flow for the configured method; missing settings are named."""
        if self.auth_method == "tba":
            self._require("consumer_key", "consumer_secret", "token_id", "token_secret")
            return TokenBasedAuth(self.account_id, self.consumer_key, self.consumer_secret,
                                  self.token_id, self.token_secret)
        if self.auth_method == "client_credentials":
            self._require("client_id", "certificate_id", "private_key_path")
            token_url = token_url_for(self.resolved_base_url())
            key = (token_url, self.client_id, self.certificate_id, self.private_key_path,
                   self.jwt_algorithm)
            if key not in _TOKEN_CACHE:
                pem = Path(self.private_key_path).read_text()
                _TOKEN_CACHE[key] = ClientCredentialsAuth(
                    token_url, self.client_id, self.certificate_id, pem, self.jwt_algorithm
                )
            return _TOKEN_CACHE[key]
        raise ValueError(f"NETSUITE_AUTH_METHOD must be one of {AUTH_METHODS}, "
                         f"not {self.auth_method!r}")

    def _require(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            env = ", ".join(f"NETSUITE_{n.upper()}" for n in missing)
            raise ValueError(f"{self.auth_method} auth needs {env}")

    def client(self) -> SuiteQLClient:
        """Returns a SuiteQL client for the account."""
        return SuiteQLClient(self.resolved_base_url(), self.auth(),
                             concurrency=self.concurrency, timeout=self.timeout_seconds)

    def set_sandbox_clock(self, as_of: date) -> None:
        """Moves the sandbox server's clock to `as_of`, so it answers as of that date."""
        if not self.sandbox:
            raise RuntimeError("the clock exists only on the sandbox; live NetSuite is today")
        response = httpx.put(
            f"{self.resolved_base_url()}/_sandbox/clock",
            json={"as_of": as_of.isoformat()},
            timeout=120.0,
        )
        response.raise_for_status()


def netsuite_resource_from_env(sandbox: bool) -> NetSuiteResource:
    """Returns the resource with every credential as an EnvVar of the chosen auth method.

    Only the method's own variables are required, so a client-credentials
    deployment sets no TBA secrets and the reverse.
    """
    method = os.environ.get("NETSUITE_AUTH_METHOD", "tba")
    credentials: dict[str, Any]
    if method == "client_credentials":
        credentials = {
            "client_id": EnvVar("NETSUITE_CLIENT_ID"),
            "certificate_id": EnvVar("NETSUITE_CERTIFICATE_ID"),
            "private_key_path": EnvVar("NETSUITE_PRIVATE_KEY_PATH"),
            "jwt_algorithm": os.environ.get("NETSUITE_JWT_ALGORITHM", "PS256"),
        }
    else:
        credentials = {
            "consumer_key": EnvVar("NETSUITE_CONSUMER_KEY"),
            "consumer_secret": EnvVar("NETSUITE_CONSUMER_SECRET"),
            "token_id": EnvVar("NETSUITE_TOKEN_ID"),
            "token_secret": EnvVar("NETSUITE_TOKEN_SECRET"),
        }
    return NetSuiteResource(account_id=EnvVar("NETSUITE_ACCOUNT_ID"), auth_method=method,
                            sandbox=sandbox, concurrency=concurrency_from_env(),
                            **credentials)


def concurrency_from_env() -> int:
    """Returns NETSUITE_CONCURRENCY as a positive count (default 2); anything else raises."""
    text = os.environ.get("NETSUITE_CONCURRENCY", "").strip()
    if not text:
        return DEFAULT_CONCURRENCY
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"NETSUITE_CONCURRENCY must be a whole number of at least 1, "
                         f"got {text!r}")
    return int(text)
