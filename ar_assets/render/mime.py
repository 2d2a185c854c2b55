"""The client email as a MIME message: text and HTML alternatives plus invoice PDFs.

Recipients come only from the plan's To and Cc; client-supplied text (names,
subjects, file names) is reduced to one line and can add no header or recipient.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from ar_assets.plan.messages import ClientEmailPlan
from ar_assets.render.branding import Branding
from ar_assets.render.emails import RenderedEmail
from ar_assets.render.views import one_line

# One bare addr-spec: no display name, comment, list separator or whitespace.
# TODO: accept internationalized addresses (UTF-8 local part, IDN domain),
# because some Japanese clients may use them; remove when delivery negotiates
# SMTPUTF8 and the plan stage validates addresses with email-validator.
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_DOMAIN}")
_MESSAGE_KEY = re.compile(r"[A-Za-z0-9._-]+")


class UnsafeHeaderValue(ValueError):
    """An address or key that could add a header or recipient."""


def build_client_email(
    plan: ClientEmailPlan,
    rendered: RenderedEmail,
    attachments: list[tuple[str, bytes]],
    branding: Branding,
    sent_at: datetime,
) -> EmailMessage:
    """The message to send: From/Reply-To from branding, To and Cc from the plan only."""
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    if not plan.to:
        raise UnsafeHeaderValue(f"plan {plan.message_key} has no To recipient")
    if not _MESSAGE_KEY.fullmatch(plan.message_key):
        raise UnsafeHeaderValue(f"message key {plan.message_key!r} is not header-safe")

    msg = EmailMessage()
    msg["From"] = Address(one_line(branding.sender_name), addr_spec=_address(branding.from_address))
    msg["To"] = [Address(addr_spec=_address(a)) for a in plan.to]
    if plan.cc:
        msg["Cc"] = [Address(addr_spec=_address(a)) for a in plan.cc]
    msg["Reply-To"] = _address(branding.reply_to)
    msg["Subject"] = one_line(rendered.subject)
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = f"<ar-{plan.message_key}@{_domain(branding.message_id_domain)}>"
    msg["Auto-Submitted"] = "auto-generated"
    # Out-of-office replies go to nobody's benefit; bounces still arrive.
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"

    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    for filename, pdf in attachments:
        msg.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=_file_name(filename)
        )
    # Set last: turning the message multipart moves Content-* headers to the first part.
    msg["Content-Language"] = rendered.language
    return msg


def _address(value: str) -> str:
    address = (value or "").strip()
    if not _ADDR_SPEC.fullmatch(address) or ".." in address:
        raise UnsafeHeaderValue(f"not a single plain email address: {address[:80]!r}")
    return address


def _domain(value: str) -> str:
    domain = (value or "").strip()
    if not re.fullmatch(_DOMAIN, domain):
        raise UnsafeHeaderValue(f"not a Message-ID domain: {domain[:80]!r}")
    return domain


def _file_name(value: str) -> str:
    name = re.sub(r'[\\/:*?"<>|]', "-", one_line(value))
    return name or "invoice.pdf"
