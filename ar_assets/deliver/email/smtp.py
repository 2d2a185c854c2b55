"""SMTP submission of rendered client emails (live mode)."""

import smtplib
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage

from dagster import ConfigurableResource

from ar_assets.deliver.channels import DeliveryResult


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
