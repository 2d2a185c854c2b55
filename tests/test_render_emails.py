"""Client emails say the right amounts, in the client's currency and language.

Protects H03 (transaction currency), H05 (yen), H06 (exact decimals) in the
email parts and the attached PDFs, the per-currency grouping, the tier wording,
HTML escaping of client text, and language discovery from template folders.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from ar_assets.render import catalog, samples
from ar_assets.render.branding import load_branding
from ar_assets.render.emails import render_client_email
from ar_assets.render.pdfs import render_invoice_pdf


@pytest.fixture(scope="module")
def branding():
    return load_branding()


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def all_parts(rendered) -> str:
    return "\n".join((rendered.subject, rendered.text, rendered.html))


def test_h03_amounts_stay_in_transaction_currency(branding, tmp_path):
    plan = samples.h03_usd_plan()
    email = render_client_email(plan, branding)
    pdf = pdf_text(render_invoice_pdf(plan.invoices[0], plan, branding), tmp_path)

    for text in (email.text, email.html, pdf):
        assert "$12,000.00" in text
        assert "USD" in text
    for text in (all_parts(email), pdf):
        assert "10,980" not in text and "10980" not in text and "10.980" not in text
        assert "EUR" not in text and "€" not in text


def test_h05_yen_has_no_minor_unit(branding, tmp_path):
    plan = samples.h05_yen_plan()
    email = render_client_email(plan, branding)

    assert email.language == "ja"
    assert email.subject.startswith("【お支払いのお願い】")
    assert "経理ご担当者様" in email.text and '<html lang="ja">' in email.html
    for text in (email.text, email.html):
        assert "期日超過分の小計" in text and "¥121,233" in text
        assert "¥113,456" in text and "¥7,777" in text and "¥10,000" in text
    first = pdf_text(render_invoice_pdf(plan.invoices[0], plan, branding), tmp_path)
    assert "¥123,456" in first and "¥113,456" in first and "¥10,000" in first
    for text in (all_parts(email), first):
        assert ".00" not in text
        assert "12,123,300" not in text and "11,345,600" not in text


def test_h06_exact_decimal_amounts(branding, tmp_path):
    plan = samples.h06_decimal_plan()
    email = render_client_email(plan, branding)
    pdf = pdf_text(render_invoice_pdf(plan.invoices[0], plan, branding), tmp_path)

    for text in (email.text, email.html):
        assert "€39,981.70" in text  # overdue subtotal
        assert "€39,981.40" in text  # INV-901 after the 0.30 credit
        assert "€0.10" in text and "€0.20" in text and "€0.30" in text
    assert "€39,981.70" in pdf and "€39,981.40" in pdf and "€0.30" in pdf
    assert "39,981.69" not in all_parts(email) + pdf


def test_each_currency_has_its_own_subtotal_and_no_cross_currency_total(branding):
    email = render_client_email(samples.multi_currency_plan(), branding)

    for text in (email.text, email.html):
        assert "$1,000.00" in text and "€900.00" in text and "¥150,000" in text
        assert "Overdue in USD" in text and "Overdue in EUR" in text and "Overdue in JPY" in text
        assert "not added together" in text
        assert "151,900" not in text and "151,900.00" not in text
    text = email.text
    assert text.index("Invoice INV-501") < text.index("Overdue in USD") < text.index("INV-502")


def test_payment_instructions_follow_each_currency(branding):
    email = render_client_email(samples.multi_currency_plan(), branding)
    assert "DE00 0000 0000 0000 0000 00" in email.text  # EUR account
    assert "000123456789" in email.text  # USD account
    ja = render_client_email(samples.h05_yen_plan(), branding)
    assert "サンプル銀行 東京支店" in ja.text and "普通預金" in ja.html


def test_am_is_named_and_credits_are_shown_as_applied(branding):
    email = render_client_email(samples.h06_decimal_plan(), branding)
    assert "Your account manager, Yuki Sato, is copied" in email.text
    assert "Credits already deducted above: €0.30" in email.text


CAMPAIGN_PAUSED = {
    "en": ("paused the campaigns", "campaigns paused"),
    "ja": ("キャンペーンを一時停止", "キャンペーン一時停止"),
    "de": ("Kampagnen für Ihr Konto pausiert", "Kampagnen pausiert"),
    "fr": ("suspendu les campagnes", "campagnes suspendues"),
    "es": ("pausado las campañas", "campañas en pausa"),
}


@pytest.mark.parametrize("language", catalog.email_languages(catalog.templates_dir()))
def test_only_tier_3_says_campaigns_are_paused(branding, language):
    body_marker, subject_marker = CAMPAIGN_PAUSED[language]
    base = dataclasses.replace(samples.h06_decimal_plan(), language=language)
    for tier in (1, 2, 3):
        email = render_client_email(dataclasses.replace(base, tier=tier), branding)
        assert email.language == language
        assert (body_marker in email.text and body_marker in email.html) == (tier == 3)
        assert (subject_marker in email.subject) == (tier == 3)


# Words of the firmer tiers that claim an earlier reminder (tier-2 body, tier-3 body,
# tier-2 subject), and the date they cite.
EARLIER_REMINDER = {
    "en": ("We wrote to you on", "Despite our reminder of", "Second reminder", "May 20, 2026"),
    "ja": ("にご案内いたしました", "にもご案内を差し上げております", "再度", "2026年5月20日"),
    "de": ("wir hatten Sie am", "trotz unserer Erinnerung vom", "Zweite", "20. Mai 2026"),
    "fr": ("Nous vous avons écrit le", "Malgré notre rappel du", "Deuxième", "20 mai 2026"),
    "es": ("Les escribimos el", "A pesar de nuestro recordatorio del", "Segundo",
           "20 de mayo de 2026"),
}


@pytest.mark.parametrize("language", catalog.email_languages(catalog.templates_dir()))
def test_firmer_tiers_cite_an_earlier_reminder_only_when_one_was_sent(branding, language):
    tier2_claim, tier3_claim, tier2_subject, cited = EARLIER_REMINDER[language]
    base = dataclasses.replace(samples.h06_decimal_plan(), language=language)
    for tier, claim in ((2, tier2_claim), (3, tier3_claim)):
        never_sent = render_client_email(dataclasses.replace(base, tier=tier), branding)
        sent = render_client_email(
            dataclasses.replace(base, tier=tier, last_reminder=date(2026, 5, 20)), branding
        )
        for part in (never_sent.text, never_sent.html):
            assert claim not in part and cited not in part
        for part in (sent.text, sent.html):
            assert claim in part and cited in part
        assert (tier2_subject in sent.subject) == (tier == 2)
        assert tier2_subject not in never_sent.subject


def test_tier_1_subject_counts_the_invoices(branding):
    one = render_client_email(samples.h03_usd_plan(), branding)
    several_plan = dataclasses.replace(samples.multi_currency_plan(), tier=1)
    several = render_client_email(several_plan, branding)
    assert one.subject == "Payment reminder: overdue invoice for Northwind Traders Inc."
    assert "overdue invoices for" in several.subject


def test_client_text_is_escaped_in_html_and_kept_on_one_line(branding):
    plan = dataclasses.replace(
        samples.h03_usd_plan(),
        client_name='<script>alert("x")</script> & Sons\r\nBcc: evil@attacker.test',
        am_name="<b>Mallory</b>",
    )
    email = render_client_email(plan, branding)
    assert "<script>" not in email.html and "<b>Mallory" not in email.html
    assert "&lt;script&gt;" in email.html and "&amp; Sons" in email.html
    assert "\r" not in email.subject and "\n" not in email.subject
    assert "& Sons Bcc: evil@attacker.test" in email.subject


def test_unshipped_language_falls_back_to_english(branding):
    email = render_client_email(
        dataclasses.replace(samples.h03_usd_plan(), language="ko"), branding
    )
    assert email.language == "en" and email.subject.startswith("Payment reminder")
    regional = dataclasses.replace(samples.h05_yen_plan(), language="ja_JP")
    assert render_client_email(regional, branding).language == "ja"


def test_a_language_is_added_by_adding_a_template_folder(branding, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(catalog.templates_dir(), templates)
    shutil.copytree(templates / "email" / "en", templates / "email" / "xx")
    for path in (templates / "email" / "xx").iterdir():
        path.write_text(path.read_text().replace("email/en/", "email/xx/"))
    (templates / "email" / "xx" / "tier1_subject.txt").write_text("XX {{ client_name }}\n")

    plan = dataclasses.replace(samples.h03_usd_plan(), language="xx")
    email = render_client_email(plan, branding, templates=templates)
    assert email.language == "xx"
    assert email.subject == "XX Northwind Traders Inc."


@pytest.mark.parametrize("language", catalog.email_languages(catalog.templates_dir()))
@pytest.mark.parametrize("tier", catalog.EMAIL_TIERS)
def test_every_shipped_template_renders_every_figure(branding, language, tier):
    plan = dataclasses.replace(samples.kwd_plan(), language=language, tier=tier)
    email = render_client_email(plan, branding)
    assert email.language == language
    assert "INV-701" in email.text and "INV-701" in email.html
    amount = email.text.split("INV-701", 1)[1]
    assert "1,500.125" in amount or "1.500,125" in amount or "1\u202f500,125" in amount
    assert "Yuki Sato" in email.text


def test_figures_are_passed_through_not_recomputed(branding):
    plan = samples.h06_decimal_plan()
    odd = dataclasses.replace(
        plan,
        currencies=(dataclasses.replace(plan.currencies[0], open_balance=Decimal("50000.05")),),
    )
    assert "€50,000.05" in render_client_email(odd, branding).text


def test_invoices_without_a_currency_summary_are_refused(branding):
    plan = dataclasses.replace(samples.multi_currency_plan(), currencies=())
    with pytest.raises(ValueError, match="no currency summary"):
        render_client_email(plan, branding)
