"""Previews and dry run: before anything leaves, a finance lead can read each rendered
email (HTML) and see each invoice PDF's first page (PNG), linked from the render
step's metadata without an address; with AR_DRY_RUN=1 the whole day is planned and
rendered, no client email is sent, every one stays planned, and a later real run
sends exactly what was previewed."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from dagster import AssetKey

from tests.builders import AM_EMAIL, LedgerBuilder
from tests.readers import attachments, body_html

AS_OF = date(2026, 6, 16)
LINK = re.compile(r"\(file://([^)]+)\)")


def preview_ledger():
    b = LedgerBuilder()
    b.client("C51", "EUR")
    b.invoice("C51", "INV-5101", "640.00", date(2026, 4, 20))
    b.invoice("C51", "INV-5102", "99.90", date(2026, 5, 2))
    b.client("C52", "JPY", language="ja")
    b.invoice("C52", "INV-5201", "88000", date(2026, 5, 1))
    return b.build()


@dataclass
class DryRun:
    case: object
    metadata: dict[AssetKey, dict]
    log_text: str
    emails_sent: int
    hubspot_sent: int
    email_rows: list[dict]


def materializations(result) -> dict[AssetKey, dict]:
    return {
        event.asset_key: event.event_specific_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """The day run once with AR_DRY_RUN=1; what it left behind, observed right after."""
    from ar_assets.sandbox.session import SandboxSession
    from tests.conftest import CaseRun

    workdir = tmp_path_factory.mktemp("dry-run")
    with SandboxSession.start(preview_ledger(), workdir) as session:
        case = CaseRun(session)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AR_DRY_RUN", "1")
            result = case.run(AS_OF)
        # Every message the run logged, and every event's metadata, as one text.
        log_text = "\n".join(
            f"{entry.user_message} {entry.dagster_event!r}"
            for entry in session._instance.all_logs(result.run_id)
        )
        yield DryRun(
            case=case,
            metadata=materializations(result),
            log_text=log_text,
            emails_sent=len(case.emails()),
            hubspot_sent=len(case.jsonl("hubspot")),
            email_rows=case.ledger(as_of=AS_OF, kind="client_overdue"),
        )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_render_links_an_html_preview_and_a_first_page_image_for_every_email(dry_run):
    render = dry_run.metadata[AssetKey(["render", "outgoing"])]
    assert render["client_emails"].value == 2
    assert render["invoice_pdfs"].value == 3
    assert render["page_previews"].value == 3
    assert Path(render["render_dir"].value).is_dir()

    table = render["previews"].value
    assert "51 C51 Trading" in table and "52 C52 Trading" in table
    linked = [Path(p) for p in LINK.findall(table)]
    html = [p for p in linked if p.suffix == ".html"]
    pages = [p for p in linked if p.suffix == ".png"]
    assert len(html) == 2 and len(pages) == 3
    assert all(p.exists() for p in linked)
    for page in pages:
        width, height = png_size(page)
        assert 200 <= width <= 600 and height > width  # A4 portrait at a small resolution
        assert page.stat().st_size < 100_000
    for label in ("[INV-5101]", "[INV-5102]", "[INV-5201]"):
        assert label in table


def test_a_dry_run_sends_no_client_email_and_leaves_every_one_planned(dry_run):
    assert dry_run.emails_sent == 0
    assert dry_run.hubspot_sent == 0
    assert [(r["client_id"], r["status"], r["attempts"]) for r in dry_run.email_rows] == [
        (51, "planned", 0), (52, "planned", 0),
    ]
    step = dry_run.metadata[AssetKey(["deliver", "client_emails"])]
    assert step["outcome"].value == "dry run: 2 not sent"
    assert "client emails: dry run: 2 not sent" in dry_run.log_text


def test_no_recipient_address_appears_in_the_run_logs_or_metadata(dry_run):
    for address in ("ap@c51.test", "ap@c52.test", AM_EMAIL):
        assert address not in dry_run.log_text


def test_a_dry_run_sends_no_chat_alert_and_no_campaign_hold(dry_run):
    sent = [r for r in dry_run.case.ledger(as_of=AS_OF) if r["status"] == "delivered"]
    assert sent == []


def test_a_real_run_after_the_dry_run_sends_exactly_what_was_previewed(dry_run):
    case = dry_run.case
    case.run(AS_OF)

    emails = {str(m["To"]): m for m in case.emails()}
    assert sorted(emails) == ["ap@c51.test", "ap@c52.test"]
    rows = case.ledger(as_of=AS_OF, kind="client_overdue")
    assert [(r["client_id"], r["status"], r["attempts"]) for r in rows] == [
        (51, "delivered", 1), (52, "delivered", 1),
    ]
    render = dry_run.metadata[AssetKey(["render", "outgoing"])]
    previews = [Path(p) for p in LINK.findall(render["previews"].value) if p.endswith(".html")]
    previewed = sorted(p.read_text(encoding="utf-8") for p in previews)
    assert previewed == sorted(body_html(m) for m in emails.values())
    assert sorted(name for name, _ in attachments(emails["ap@c51.test"])) == [
        "Invoice_INV-5101.pdf", "Invoice_INV-5102.pdf",
    ]
