"""Delivery channels: the local outbox (sandbox) or SMTP and HTTPS endpoints (live).

Each send returns a DeliveryResult; the caller writes it to the ledger. A
send whose outcome cannot be known (a timeout after the message was handed
over) is reported as unknown, never as failed, so it is never resent.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
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


class SmtpSender(ConfigurableResource):
    """SMTP submission with STARTTLS and login; settings come from the environment."""

    host: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    starttls: bool = True
    cafile: str = ""
    timeout_seconds: float = 30.0

    def send(self, eml: bytes) -> DeliveryResult:
        message: EmailMessage = message_from_bytes(eml, policy=policy.default)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
                smtp.ehlo()
                if self.starttls:
                    context = ssl.create_default_context(cafile=self.cafile or None)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            return DeliveryResult("failed", f"smtp {codes[0]}: all recipients refused")
        except smtplib.SMTPResponseException as exc:
            kind = "failed" if exc.smtp_code >= 400 else "unknown"
            return DeliveryResult(kind, f"smtp {exc.smtp_code}: {_text(exc.smtp_error)}")
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            # The server may have accepted the message before the line dropped.
            return DeliveryResult("unknown", f"smtp connection lost: {type(exc).__name__}")
        except OSError as exc:
            return DeliveryResult("failed", f"smtp connect failed: {type(exc).__name__}")
        to_refused = [code for addr, (code, _) in refused.items() if addr in _to_addresses(message)]
        if to_refused:
            # Only the Cc got through: the client was not told, so this is a failure.
            return DeliveryResult("failed", f"smtp {to_refused[0]}: client recipient refused")
        return DeliveryResult("delivered", external_id=message["Message-ID"])


def _to_addresses(message: EmailMessage) -> set[str]:
    return {addr.addr_spec for addr in message["To"].addresses} if message["To"] else set()


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
