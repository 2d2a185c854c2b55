"""The HubSpot resource: portal host, private-app token and the portal's limits.

- HUBSPOT_ACCESS_TOKEN  private-app token (secret; EnvVar in live mode)
- HUBSPOT_BASE_URL      optional host override (the loopback sandbox's URL)

Companies are found by the custom property `netsuite_customer_id`; every
activity we log carries our ledger key in `ar_message_key`; the campaign hold
is the company property `ar_campaign_hold`. All three names are settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dagster import ConfigurableResource, EnvVar

from ar_assets.deliver.chat.settings import posts_to_network

DEFAULT_HOST = "https://api.hubapi.com"


@dataclass(frozen=True)
class HubSpotSettings:
    access_token: str
    host: str
    requests_per_window: int = 100
    window_seconds: float = 10.0
    searches_per_second: int = 4
    batch_size: int = 100
    max_attempts: int = 6
    backoff_seconds: float = 0.5
    rate_limit_backoff_seconds: float = 10.0
    timeout: float = 30.0
    customer_id_property: str = "netsuite_customer_id"
    message_key_property: str = "ar_message_key"
    hold_property: str = "ar_campaign_hold"


class HubSpotResource(ConfigurableResource):
    """A HubSpot portal reached with hubspot-api-client, or the sandbox outbox."""

    access_token: str = ""
    host: str = ""
    mode: str = ""  # "api" or "outbox"; empty follows AR_MODE / AR_SANDBOX_SERVERS
    requests_per_window: int = 100  # the portal's limit, shared by every app on it
    window_seconds: float = 10.0
    searches_per_second: int = 4  # HubSpot's search endpoints allow about 5 per second
    batch_size: int = 100
    max_attempts: int = 6
    backoff_seconds: float = 0.5
    rate_limit_backoff_seconds: float = 10.0  # a 429 without Retry-After
    timeout_seconds: float = 30.0
    customer_id_property: str = "netsuite_customer_id"
    message_key_property: str = "ar_message_key"
    hold_property: str = "ar_campaign_hold"

    def uses_api(self) -> bool:
        return posts_to_network(self.mode)

    def settings(self) -> HubSpotSettings:
        # The sandbox server's URL and token are published at run time; live
        # mode passes the token in through EnvVar.
        token = self.access_token or os.environ.get("HUBSPOT_ACCESS_TOKEN", "")
        if not token:
            raise ValueError("HubSpot needs HUBSPOT_ACCESS_TOKEN (a private-app token)")
        host = self.host or os.environ.get("HUBSPOT_BASE_URL", "") or DEFAULT_HOST
        return HubSpotSettings(
            access_token=token,
            host=host.rstrip("/"),
            requests_per_window=self.requests_per_window,
            window_seconds=self.window_seconds,
            searches_per_second=self.searches_per_second,
            batch_size=self.batch_size,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            rate_limit_backoff_seconds=self.rate_limit_backoff_seconds,
            timeout=self.timeout_seconds,
            customer_id_property=self.customer_id_property,
            message_key_property=self.message_key_property,
            hold_property=self.hold_property,
        )

    def crm(self):
        from ar_assets.deliver.hubspot.client import HubSpotCrm

        return HubSpotCrm(self.settings())


def hubspot_resource() -> HubSpotResource:
    """The resource for the mode named by AR_MODE (read when definitions load)."""
    if os.environ.get("AR_MODE", "sandbox") == "live":
        return HubSpotResource(access_token=EnvVar("HUBSPOT_ACCESS_TOKEN"), mode="api")
    return HubSpotResource()
