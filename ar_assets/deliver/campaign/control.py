"""The campaign-control webhook that pauses and resumes a client's marketing campaigns.

Our contract with it: `POST <AR_CAMPAIGN_WEBHOOK_URL>` with JSON
`{"action": "place" | "lift", "netsuite_customer_id", "client_name", "reason",
"as_of", "message_key"}` and the header `Idempotency-Key: <message_key>`;
any 2xx is success. Because of the key a retry is safe, so 429, 5xx and lost
connections are retried with backoff. The URL holds its secret and is never
logged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import httpx
from dagster import ConfigurableResource, EnvVar

from ar_assets.deliver.channels import DeliveryResult
from ar_assets.deliver.chat.settings import posts_to_network


class CampaignControlResource(ConfigurableResource):
    """The campaign-control webhook, or the sandbox outbox."""

    webhook_url: str = ""
    mode: str = ""  # "webhook" or "outbox"; empty follows AR_MODE / AR_SANDBOX_SERVERS
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    timeout_seconds: float = 30.0

    def uses_webhook(self) -> bool:
        return posts_to_network(self.mode)

    def url(self) -> str:
        # The sandbox's URL is published at run time; live mode uses EnvVar.
        return self.webhook_url or os.environ.get("AR_CAMPAIGN_WEBHOOK_URL", "")

    def send(self, payload: dict, key: str,
             sleep: Callable[[float], None] = time.sleep) -> DeliveryResult:
        url = self.url()
        if not url:
            return DeliveryResult("failed", "no campaign-control webhook configured")
        headers = {"Idempotency-Key": key}
        with httpx.Client(timeout=self.timeout_seconds) as client:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    response = client.post(url, json=payload, headers=headers)
                except httpx.HTTPError as exc:
                    reason = f"campaign control unreachable: {type(exc).__name__}"
                else:
                    if response.is_success:
                        return DeliveryResult("delivered", external_id=key)
                    reason = f"campaign control {response.status_code}"
                    if response.status_code != 429 and response.status_code < 500:
                        return DeliveryResult("failed", reason)
                if attempt < self.max_attempts:
                    sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return DeliveryResult("failed", f"{reason} after {self.max_attempts} attempts")


def campaign_control_resource() -> CampaignControlResource:
    """The resource for the mode named by AR_MODE (read when definitions load)."""
    if os.environ.get("AR_MODE", "sandbox") == "live":
        return CampaignControlResource(webhook_url=EnvVar("AR_CAMPAIGN_WEBHOOK_URL"),
                                       mode="webhook")
    return CampaignControlResource()
