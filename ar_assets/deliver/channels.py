"""What every channel shares: the delivery result and the sandbox outbox.

Each send returns a DeliveryResult; the caller writes it to the ledger. A
send whose outcome cannot be known (a timeout after the message was handed
over) is reported as unknown, never as failed, so it is never resent.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource

from ar_assets.policy import PROJECT_ROOT


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # delivered | failed | unknown
    reason: str | None = None
    external_id: str | None = None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Outbox(ConfigurableResource):
    """Sandbox deliveries: .eml files per email, JSON lines per other channel."""

    outbox_dir: str = ""

    def root(self) -> Path:
        return Path(self.outbox_dir or os.environ.get("AR_OUTBOX_DIR") or PROJECT_ROOT / "outbox")

    def write_email(self, as_of: str, message_key: str, eml: bytes) -> DeliveryResult:
        path = self.root() / "email" / as_of / f"{message_key}.eml"
        _atomic_write(path, eml)
        return DeliveryResult("delivered", external_id=path.name)

    def append(self, channel: str, record: dict) -> DeliveryResult:
        path = self.root() / f"{channel}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False, sort_keys=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return DeliveryResult("delivered", external_id=record.get("message_key"))
