"""The Google Chat resource: webhook URLs per space and how alerts are paced.

Webhook URLs carry their token, so each one is a secret: in live mode they
come in through `EnvVar` and are never logged, put in metadata or the ledger.

- AR_CHAT_WEBHOOK_AR_TEAM      the AR team space (also the fallback space)
- AR_CHAT_WEBHOOK_COLLECTIONS  the collections space
- AR_CHAT_WEBHOOK_OPS          the ops space
- AR_CHAT_AM_WEBHOOKS          JSON object: an AM's employee id, or the Chat space
                               of the employee record (custentity_gchat_space,
                               e.g. "spaces/AAAA1234"), -> that space's webhook URL

Where the alerts go is one switch: live mode (AR_MODE=live) and the loopback
servers (AR_SANDBOX_SERVERS=1) post to webhooks; plain sandbox mode appends
the messages to the outbox as JSON lines.
"""

from __future__ import annotations

import json
import os

from dagster import ConfigurableResource, EnvVar

NAMED_SPACES = ("ar_team", "collections", "ops")
FALLBACK_SPACE = "ar_team"


def posts_to_network(mode: str = "") -> bool:
    """True when deliveries go to real endpoints (live, or the loopback servers)."""
    if mode:
        return mode in ("webhook", "api", "network")
    return (os.environ.get("AR_MODE", "sandbox") == "live"
            or os.environ.get("AR_SANDBOX_SERVERS", "") == "1")


class GoogleChatResource(ConfigurableResource):
    """Incoming webhooks of the AR team, collections, ops and AM spaces."""

    ar_team_webhook: str = ""
    collections_webhook: str = ""
    ops_webhook: str = ""
    am_webhooks: str = ""  # JSON object, see the module docstring
    mode: str = ""  # "webhook" or "outbox"; empty follows AR_MODE / AR_SANDBOX_SERVERS
    digest_threshold: int = 10  # more alerts than this for one space in one run: a digest
    min_interval_seconds: float = 1.0  # per space
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    timeout_seconds: float = 30.0

    def uses_webhooks(self) -> bool:
        return posts_to_network(self.mode)

    def _value(self, configured: str, env_name: str) -> str:
        # Sandbox mode reads the loopback servers' URLs at run time (they are
        # started after import); live mode passes them in through EnvVar.
        return configured or os.environ.get(env_name, "")

    def space_webhooks(self) -> dict[str, str]:
        """Webhook URL per named space ('ar_team', 'collections', 'ops')."""
        urls = {
            "ar_team": self._value(self.ar_team_webhook, "AR_CHAT_WEBHOOK_AR_TEAM"),
            "collections": self._value(self.collections_webhook, "AR_CHAT_WEBHOOK_COLLECTIONS"),
            "ops": self._value(self.ops_webhook, "AR_CHAT_WEBHOOK_OPS"),
        }
        return {name: url for name, url in urls.items() if url}

    def am_webhook_map(self) -> dict[str, str]:
        """Webhook URL per AM employee id or Chat space name."""
        raw = self._value(self.am_webhooks, "AR_CHAT_AM_WEBHOOKS")
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            # The value is a secret: say what is wrong, never what it is.
            raise ValueError("AR_CHAT_AM_WEBHOOKS is not a JSON object") from None
        if not isinstance(parsed, dict):
            raise ValueError("AR_CHAT_AM_WEBHOOKS is not a JSON object")
        return {str(k): str(v) for k, v in parsed.items() if v}


def chat_resource() -> GoogleChatResource:
    """The resource for the mode named by AR_MODE (read when definitions load)."""
    if os.environ.get("AR_MODE", "sandbox") == "live":
        return GoogleChatResource(
            ar_team_webhook=EnvVar("AR_CHAT_WEBHOOK_AR_TEAM"),
            collections_webhook=EnvVar("AR_CHAT_WEBHOOK_COLLECTIONS"),
            ops_webhook=EnvVar("AR_CHAT_WEBHOOK_OPS"),
            am_webhooks=EnvVar("AR_CHAT_AM_WEBHOOKS"),
            mode="webhook",
        )
    return GoogleChatResource()
