"""The NetSuite resource: account, token-based-auth credentials and the sandbox switch.

Definitions pass every credential through `dagster.EnvVar`, read at run time
and masked in the UI:

- NETSUITE_ACCOUNT_ID       account id, e.g. 1234567_SB1 (also the OAuth realm)
- NETSUITE_CONSUMER_KEY     integration record's consumer key
- NETSUITE_CONSUMER_SECRET  integration record's consumer secret
- NETSUITE_TOKEN_ID         access token id
- NETSUITE_TOKEN_SECRET     access token secret
- NETSUITE_BASE_URL         optional; overrides the host derived from the account
                            id (the sandbox server's URL in sandbox mode)
"""

from __future__ import annotations

import os
from datetime import date

import httpx
from dagster import ConfigurableResource

from ar_assets.land.suiteql import SuiteQLClient, netsuite_base_url


class NetSuiteResource(ConfigurableResource):
    """A NetSuite account reached over SuiteQL REST, or the loopback sandbox."""

    account_id: str
    base_url: str = ""
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str
    sandbox: bool = True

    def resolved_base_url(self) -> str:
        """Returns the base URL: the override if set, else the account's REST host."""
        # Read at run time, so a process can point at a sandbox started after import.
        override = self.base_url or os.environ.get("NETSUITE_BASE_URL", "")
        if override:
            return override.rstrip("/")
        if self.sandbox:
            raise ValueError("sandbox mode needs NETSUITE_BASE_URL (the sandbox server's URL)")
        return netsuite_base_url(self.account_id)

    def client(self) -> SuiteQLClient:
        """Returns a SuiteQL client for the account; close it (or use `with`) when done."""
        return SuiteQLClient(
            account_id=self.account_id,
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            token_id=self.token_id,
            token_secret=self.token_secret,
            base_url=self.resolved_base_url(),
        )

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
