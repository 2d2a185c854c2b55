"""The client email as sent: right headers, right recipients, nothing a client can inject.

Parses the built message back from bytes, as the SMTP server would see it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.utils import getaddresses

import pytest

from ar_assets.render import samples
from ar_assets.render.branding import load_branding
from ar_assets.render.emails import render_client_email
from ar_assets.render.mime import UnsafeHeaderValue, build_client_email
from ar_assets.render.pdfs import attachment_filename

SENT_AT = datetime(2026, 6, 16, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def branding():
    return load_branding()


def build(plan, branding, attachments=None, sent_at=SENT_AT):
    rendered = render_client_email(plan, branding)
    if attachments is None:
        attachments = [
            (attachment_filename(inv, plan.language), b"%PDF-1.7 " + inv.tranid.encode())
            for inv in plan.invoices
        ]
    message = build_client_email(plan, rendered, attachments, branding, sent_at)
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def recipients(message) -> list[str]:
    fields = message.get_all("To", []) + message.get_all("Cc", []) + message.get_all("Bcc", [])
    return sorted(addr for _, addr in getaddresses([str(f) for f in fields]))


def test_headers_of_a_client_email(branding):
    plan = samples.h05_yen_plan()
    message = build(plan, branding)

    assert message["From"].addresses[0].addr_spec == "ar@ar-demo.example"
    assert message["From"].addresses[0].display_name == "AR Demo Accounts Receivable"
    assert [a.addr_spec for a in message["To"].addresses] == ["ap@c6.test"]
    assert [a.addr_spec for a in message["Cc"].addresses] == ["am.sato@ar-demo.example"]
    assert message["Reply-To"].addresses[0].addr_spec == "ar@ar-demo.example"
    assert message["Message-ID"] == f"<ar-{plan.message_key}@ar-demo.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"].datetime == SENT_AT
    assert message["Subject"].startswith("【お支払いのお願い】")
    assert message["Bcc"] is None
    assert "List-Unsubscribe" not in message


def test_structure_is_text_and_html_alternatives_plus_one_pdf_per_invoice(branding):
    message = build(samples.h05_yen_plan(), branding)

    assert message.get_content_type() == "multipart/mixed"
    alternative, *pdfs = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.iter_parts()
    assert text.get_content_type() == "text/plain" and "¥121,233" in text.get_content()
    assert html.get_content_type() == "text/html" and "¥121,233" in html.get_content()
    assert [p.get_filename() for p in pdfs] == ["請求書_INV-601.pdf", "請求書_INV-602.pdf"]
    assert all(p.get_content_type() == "application/pdf" for p in pdfs)
    assert pdfs[0].get_content() == b"%PDF-1.7 INV-601"


def test_message_id_depends_on_the_plan_key_only(branding):
    plan = samples.h03_usd_plan()
    first = build(plan, branding)
    later = build(plan, branding, sent_at=SENT_AT + timedelta(hours=5))
    assert first["Message-ID"] == later["Message-ID"]
    other = build(dataclasses.replace(plan, message_key="f" * 32), branding)
    assert other["Message-ID"] != first["Message-ID"]


def test_header_injection_through_client_text_is_inert(branding):
    evil = "ACME\r\nBcc: thief@attacker.test\r\nX-Injected: yes\n\n<b>body</b>"
    plan = dataclasses.replace(samples.h03_usd_plan(), client_name=evil, am_name=evil)
    attachments = [("Invoice_INV-401.pdf\r\nBcc: thief@attacker.test", b"%PDF-1.7")]
    message = build(plan, branding, attachments)

    assert recipients(message) == ["am.sato@ar-demo.example", "ap@c4.test"]
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "attacker" not in str(message["To"]) + str(message["Cc"])
    assert "\n" not in message["Subject"] and "ACME Bcc: thief@attacker.test" in message["Subject"]
    header_names = {name.lower() for name in message.keys()}
    assert header_names == {
        "from", "to", "cc", "reply-to", "subject", "date", "message-id", "auto-submitted",
        "x-auto-response-suppress", "content-language", "mime-version", "content-type",
    }  # fmt: skip
    pdf = list(message.iter_attachments())[0]
    assert "\n" not in pdf.get_filename() and pdf.get("Bcc") is None


@pytest.mark.parametrize(
    "address",
    [
        "ap@c4.test\r\nBcc: thief@attacker.test",
        "ap@c4.test, thief@attacker.test",
        "Thief <thief@attacker.test>",
        "ap@@c26.test",
        "",
    ],
)
def test_an_unsafe_recipient_is_refused_not_sent(branding, address):
    plan = dataclasses.replace(samples.h03_usd_plan(), to=(address,))
    with pytest.raises(UnsafeHeaderValue):
        build(plan, branding)


def test_an_unsafe_message_key_is_refused(branding):
    plan = dataclasses.replace(samples.h03_usd_plan(), message_key="abc>\r\nBcc: x@y.test")
    with pytest.raises(UnsafeHeaderValue):
        build(plan, branding)


def test_date_must_carry_a_time_zone(branding):
    with pytest.raises(ValueError, match="timezone"):
        build(samples.h03_usd_plan(), branding, sent_at=datetime(2026, 6, 16, 6, 0))
    berlin = timezone(timedelta(hours=2))
    message = build(samples.h03_usd_plan(), branding, sent_at=SENT_AT.astimezone(berlin))
    assert message["Date"].datetime == SENT_AT


def test_amounts_survive_transfer_encoding(branding):
    message = build(samples.h06_decimal_plan(), branding)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "€39,981.70" in text and "€39,981.40" in html
