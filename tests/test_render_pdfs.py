"""Invoice PDFs: every glyph drawn, every figure to the minor unit, each document rendered once.

Protects H16 (Japanese glyphs and font), KWD's three decimals, the missing-glyph
check itself, localized attachment names, and the batch renderer's cache.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image

from ar_assets.plan.messages import CurrencySummary, InvoiceLine
from ar_assets.render import catalog, pdf_engine, pdfs, samples
from ar_assets.render.branding import load_branding
from ar_assets.render.pdf_check import fonts_drawing_missing_glyphs
from ar_assets.render.pdfs import (
    attachment_filename,
    invoice_html,
    render_invoice_pdf,
    render_invoice_pdfs,
)

CURRENCIES = ("USD", "EUR", "GBP", "JPY", "KWD")


@pytest.fixture(scope="module")
def branding():
    return load_branding()


def poppler(tool: str, pdf: bytes, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Runs a poppler tool on the PDF; text output on stdout, images as tmp_path/doc.png."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    output = {"pdftotext": ["-"], "pdftoppm": [str(tmp_path / "doc")]}.get(tool, [])
    return subprocess.run(
        [tool, *args, str(path), *output],
        check=True,
        capture_output=True,
        text=True,
    )


def pdf_text(pdf: bytes, tmp_path) -> str:
    return poppler("pdftotext", pdf, tmp_path, "-enc", "UTF-8").stdout


def test_h16_japanese_pdf_renders_every_glyph(branding, tmp_path):
    plan = samples.h16_japanese_plan()
    html = invoice_html(plan.invoices[0], plan, branding)
    pdf = render_invoice_pdf(plan.invoices[0], plan, branding)

    assert '<html lang="ja">' in html
    assert '"IPAexGothic"' in html
    text = pdf_text(pdf, tmp_path)
    assert "株式会社青葉商事" in text
    assert "保守サービス（6月分）" in text
    assert "¥88,000" in text and "請求書" in text

    fonts = poppler("pdffonts", pdf, tmp_path).stdout.splitlines()[2:]
    ipaex = [line for line in fonts if "IPAexGothic" in line]
    assert ipaex, fonts
    assert all(line.split()[-5:-3] == ["yes", "yes"] for line in ipaex)  # embedded, subset

    assert fonts_drawing_missing_glyphs(pdf) == []  # no .notdef box on any page
    page = poppler("pdftoppm", pdf, tmp_path, "-png", "-r", "40", "-singlefile")
    assert page.stderr == ""  # poppler found and rasterized every embedded font
    dark_pixels = sum(Image.open(tmp_path / "doc.png").convert("L").histogram()[:128])
    assert dark_pixels > 500  # text and header drawn, not an empty page
    assert len(pdf) < 1_000_000


def test_missing_glyph_check_sees_a_box_that_text_extraction_hides(branding, tmp_path):
    plan = samples.h16_japanese_plan()
    line = InvoiceLine("X", "保守\u0bf5サービス", Decimal(1), Decimal(1), Decimal(1))
    invoice = dataclasses.replace(plan.invoices[0], lines=(line,))
    pdf = render_invoice_pdf(invoice, plan, branding)

    assert "保守\u0bf5サービス" in pdf_text(pdf, tmp_path)  # extraction looks fine
    assert fonts_drawing_missing_glyphs(pdf)  # but a box is drawn


def _plan_in(language: str, currency: str):
    base = samples.kwd_plan()
    amount = {"JPY": Decimal("150000"), "KWD": Decimal("1500.125")}.get(
        currency, Decimal("1500.12")
    )
    line = InvoiceLine("SVC-1", "Service – Überprüfung, été, año", Decimal(1), amount, amount)
    invoice = dataclasses.replace(
        base.invoices[0],
        currency=currency,
        total=amount,
        amount_paid=Decimal(0),
        remaining=amount,
        lines=(line,),
    )
    summary = CurrencySummary(currency, amount, Decimal(0), amount)
    return dataclasses.replace(base, language=language, invoices=(invoice,), currencies=(summary,))


@pytest.mark.parametrize("currency", CURRENCIES)
@pytest.mark.parametrize("language", catalog.label_languages(catalog.templates_dir()))
def test_every_language_and_currency_draws_every_glyph(branding, language, currency, tmp_path):
    plan = _plan_in(language, currency)
    pdf = render_invoice_pdf(plan.invoices[0], plan, branding)

    assert fonts_drawing_missing_glyphs(pdf) == []
    text = pdf_text(pdf, tmp_path)
    assert "INV-701" in text and currency in text
    assert len(pdf) < 1_000_000


def test_kwd_invoice_shows_three_decimals(branding, tmp_path):
    plan = samples.kwd_plan()
    text = pdf_text(render_invoice_pdf(plan.invoices[0], plan, branding), tmp_path)
    for figure in ("2,500.125", "1,000.000", "1,500.125", "1,000.050", "0.000"):
        assert f"KWD\u00a0{figure}" in text or f"KWD {figure}" in text, figure
    assert re.search(r"\b2\.5\b", text)  # quantity as given, not 2.500000


def test_attachment_names_are_localized_and_safe():
    invoice = samples.h05_yen_plan().invoices[0]
    assert attachment_filename(invoice, "ja") == "請求書_INV-601.pdf"
    assert attachment_filename(invoice, "ja_JP") == "請求書_INV-601.pdf"
    assert attachment_filename(invoice, "en") == "Invoice_INV-601.pdf"
    assert attachment_filename(invoice, "ko") == "Invoice_INV-601.pdf"
    odd = dataclasses.replace(invoice, tranid="INV/7\r\n..\\x")
    assert attachment_filename(odd, "en") == "Invoice_INV-7 ..-x.pdf"


def test_batch_renders_each_distinct_document_once_and_then_serves_the_cache(
    branding, tmp_path, monkeypatch
):
    plans = [samples.h05_yen_plan(), samples.h06_decimal_plan(), samples.h16_japanese_plan()]
    items = [(invoice, plan) for plan in plans for invoice in plan.invoices]
    items.append(items[0])  # the same invoice twice in one batch
    rendered_counts = []
    real = pdf_engine.html_to_pdfs

    def counting(documents, base_url=None, workers=None):
        rendered_counts.append(len(documents))
        return real(documents, base_url, workers=1)

    monkeypatch.setattr(pdfs, "html_to_pdfs", counting)
    first = render_invoice_pdfs(items, branding, cache_dir=tmp_path / "cache")
    second = render_invoice_pdfs(items, branding, cache_dir=tmp_path / "cache")

    assert rendered_counts == [6, 0]
    assert set(first) == {(inv.invoice_id, plan.message_key) for inv, plan in items}
    assert first == second
    assert all(pdf.startswith(b"%PDF-") for pdf in first.values())
    assert len(list((tmp_path / "cache").rglob("*.pdf"))) == 6


def test_a_changed_invoice_is_rendered_again(branding, tmp_path):
    plan = samples.h06_decimal_plan()
    before = render_invoice_pdfs([(plan.invoices[0], plan)], branding, cache_dir=tmp_path)
    paid = dataclasses.replace(
        plan.invoices[0], amount_paid=Decimal("1000.00"), remaining=Decimal("38981.40")
    )
    after = render_invoice_pdfs([(paid, plan)], branding, cache_dir=tmp_path)
    assert before != after
    assert "€38,981.40" in pdf_text(next(iter(after.values())), tmp_path)


def test_pool_and_serial_rendering_give_the_same_text(branding, tmp_path):
    plan = samples.h06_decimal_plan()
    items = [
        (dataclasses.replace(plan.invoices[0], invoice_id=i, tranid=f"INV-9{i:02d}"), plan)
        for i in range(8)
    ]
    pooled = render_invoice_pdfs(items, branding, workers=2)
    for (invoice, _), pdf in zip(items, pooled.values(), strict=True):
        assert invoice.tranid in pdf_text(pdf, tmp_path)


def test_rendering_refuses_network_resources():
    with pytest.raises(ValueError, match="refusing"):
        pdf_engine.local_only_fetcher("http://127.0.0.1:9/logo.png")


def test_pdf_shows_invoice_dates_in_the_client_locale(branding, tmp_path):
    plan = samples.h16_japanese_plan()
    invoice = dataclasses.replace(plan.invoices[0], due_date=date(2026, 5, 10))
    text = pdf_text(render_invoice_pdf(invoice, plan, branding), tmp_path)
    assert "2026年5月10日" in text and "お支払期日" in text


def test_pool_is_used_only_when_it_pays(monkeypatch):
    monkeypatch.delenv("AR_PDF_WORKERS", raising=False)
    monkeypatch.setattr(pdf_engine.os, "cpu_count", lambda: 8)
    assert pdf_engine.pool_size(10) == 1
    assert pdf_engine.pool_size(60) == 2
    assert pdf_engine.pool_size(1000) == 4
    monkeypatch.setattr(pdf_engine.os, "cpu_count", lambda: 2)
    assert pdf_engine.pool_size(1000) == 1
    assert pdf_engine.pool_size(8, workers=2) == 2
