"""Chat alerts reach the right space as cards threaded per client, busy spaces get digests
under 32,000 bytes in order, no space gets more than one message a second, 429/5xx are
retried, and each alert keeps its own ledger outcome.

Real httpx posts to the loopback Chat server; the ledger is a DuckDB file."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.delivery import PendingAlert, deliver_alerts
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.ledger import LedgerEntry, ensure_ledger, record_plan
from ar_assets.plan.messages import CurrencySummary, InternalAlert
from ar_assets.render.branding import load_branding
from ar_assets.render.chat import render_chat_card
from ar_assets.sandbox.chat_server import ChatSandbox
from ar_assets.sandbox.serve import serve_app

AS_OF = date(2026, 6, 16)


@pytest.fixture
def chat():
    sandbox = ChatSandbox()
    with serve_app(sandbox.app) as url:
        # Fresh space ids per test: pacing is remembered per space for the process.
        suffix = uuid.uuid4().hex[:8]
        sandbox.spaces = {name: f"{name.upper()}-{suffix}"
                          for name in ("ar_team", "collections", "ops", "am900", "am901")}
        sandbox.urls = {name: sandbox.webhook_url(url, space)
                        for name, space in sandbox.spaces.items()}
        yield sandbox


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "ar.duckdb")) as connection:
        ensure_ledger(connection)
        yield connection


def resource(chat, **changes) -> GoogleChatResource:
    urls = chat.urls
    settings = dict(mode="webhook", ar_team_webhook=urls["ar_team"],
                    collections_webhook=urls["collections"], ops_webhook=urls["ops"],
                    am_webhooks=json.dumps({"900": urls["am900"],
                                            "spaces/AM901": urls["am901"]}),
                    backoff_seconds=0.05)
    return GoogleChatResource(**(settings | changes))


def alert(con, client_id: int, kind: str = "am_overdue", space: str = "am-900",
          name: str | None = None) -> PendingAlert:
    key = f"{kind}-{space}-{client_id}"
    summary = CurrencySummary("EUR", Decimal("675.50"), Decimal("0"), Decimal("985.75"))
    planned = InternalAlert(
        message_key=key, as_of=AS_OF, kind=kind, space=space, client_id=client_id,
        client_name=name or f"C{client_id} Trading", tier=2, amounts=(summary,),
        oldest_dpd=46, thread_key=f"ar-{client_id}",
    )
    record_plan(con, [LedgerEntry(key, AS_OF, "chat", kind, client_id, "planned", tier=2)])
    body = render_chat_card(planned, load_branding())
    return PendingAlert(key, kind, client_id, space, body, 46)


def ledger(con) -> dict[str, tuple]:
    rows = con.execute("select message_key, status, reason, external_id from ops.ledger"
                       ).fetchall()
    return {key: (status, reason, external_id) for key, status, reason, external_id in rows}


def deliver(con, chat, alerts, **changes):
    return deliver_alerts(con, resource(chat, **changes), Outbox(), AS_OF, alerts,
                          {900: None, 901: "spaces/AM901", 902: None})


def test_an_alert_is_a_card_in_its_am_space_threaded_per_client(con, chat):
    first = alert(con, 5)
    deliver(con, chat, [first])
    later = alert(con, 5, kind="hold_placed")
    deliver(con, chat, [later])

    posts = chat.messages(chat.spaces["am900"])
    assert len(posts) == 2
    assert [p.thread_key for p in posts] == ["ar-5", "ar-5"]
    assert {p.reply_option for p in posts} == {"REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"}
    assert posts[0].thread == posts[1].thread
    card = posts[0].body["cardsV2"][0]["card"]
    assert card["header"]["subtitle"] == "C5 Trading · Tier 2"
    text = json.dumps(posts[0].body, ensure_ascii=False)
    assert "€675.50" in text and "46" in text and "hubspot.com" in text
    assert ledger(con)[first.message_key][0] == "delivered"
    assert ledger(con)[first.message_key][2].startswith(f"spaces/{chat.spaces['am900']}/")


def test_an_am_is_routed_by_employee_id_or_the_space_on_the_employee_record(con, chat):
    by_id = alert(con, 1, space="am-900")
    by_space = alert(con, 2, space="am-901")
    no_space = alert(con, 3, space="am-902")

    report = deliver(con, chat, [by_id, by_space, no_space])

    assert [p.body["thread"]["threadKey"] for p in chat.messages(chat.spaces["am900"])] == \
        ["ar-1"]
    assert [p.body["thread"]["threadKey"] for p in chat.messages(chat.spaces["am901"])] == \
        ["ar-2"]
    assert [p.body["thread"]["threadKey"] for p in chat.messages(chat.spaces["ar_team"])] == \
        ["ar-3"]
    assert report.routed_to_fallback == 1


def test_an_am_alert_that_falls_back_rides_on_the_clients_team_card(con, chat):
    am_without_space = alert(con, 3, space="am-902")
    team = alert(con, 3, kind="team_alert", space="ar_team")
    other_client = alert(con, 4, space="am-902")

    deliver(con, chat, [am_without_space, team, other_client])

    def title(body: dict) -> str:
        return body["cardsV2"][0]["card"]["header"]["title"]

    cards = [(p.body["thread"]["threadKey"], title(p.body))
             for p in chat.messages(chat.spaces["ar_team"])]
    assert cards == [("ar-3", title(team.body)), ("ar-4", title(other_client.body))]
    for each in (am_without_space, team, other_client):
        assert ledger(con)[each.message_key][0] == "delivered"


def test_a_busy_space_gets_a_digest_split_under_32000_bytes_in_order(con, chat):
    long_name = "Ünïcode Holding & Söhne \"Quoted\" " * 24
    alerts = [alert(con, cid, kind="team_alert", space="ar_team", name=f"{long_name}{cid}")
              for cid in range(1, 121)]
    chat.faults.messages_per_second = 10  # pacing has its own test; keep this one quick

    report = deliver(con, chat, alerts, min_interval_seconds=0.1)

    posts = chat.messages(chat.spaces["ar_team"])
    assert len(posts) > 1 and report.digests == 1
    assert all(p.size_bytes <= 32_000 for p in posts)
    assert not [p for p in chat.posts if p.status != 200]
    headers = [p.body["text"].split("\n")[0] for p in posts]
    assert [h.split(" part ")[1].split(" of ")[0] for h in headers] == \
        [str(n) for n in range(1, len(posts) + 1)]
    lines = [line for p in posts for line in p.body["text"].split("\n")[1:]]
    assert [line.rsplit("Söhne \"Quoted\" ", 1)[1].split(" ")[0] for line in lines] == \
        [str(cid) for cid in range(1, 121)]
    assert {status for status, *_ in ledger(con).values()} == {"delivered"}
    assert report.outcomes["delivered"] == 120
    assert len({status_and_id[2] for status_and_id in ledger(con).values()}) == len(posts)


def test_alerts_below_the_digest_threshold_stay_cards(con, chat):
    alerts = [alert(con, cid, kind="team_alert", space="ar_team") for cid in range(1, 4)]

    report = deliver(con, chat, alerts, digest_threshold=3)

    assert report.digests == 0
    assert [len(p.body["cardsV2"]) for p in chat.messages(chat.spaces["ar_team"])] == [1, 1, 1]


def test_no_space_gets_more_than_one_message_a_second_and_spaces_take_turns(con, chat):
    spaces = ("am-900", "am-901", "collections")
    alerts = [alert(con, cid, kind="collections" if s == "collections" else "am_overdue",
                    space=s) for s in spaces for cid in range(1, 5)]

    began = time.monotonic()
    report = deliver(con, chat, alerts)
    elapsed = time.monotonic() - began

    assert report.outcomes["delivered"] == 12
    assert chat.busiest_second() == 1
    for space in ("am900", "am901", "collections"):
        times = [p.at for p in chat.messages(chat.spaces[space])]
        assert len(times) == 4
        assert min(b - a for a, b in zip(times, times[1:])) >= 1.0
    assert elapsed < 6  # three spaces in turn: about 3 s, not 11 s in a row


def test_429_and_5xx_are_retried_with_backoff(con, chat):
    chat.faults.fail_statuses = [429, 503, 500]
    chat.faults.messages_per_second = 10
    one = alert(con, 1, kind="collections", space="collections")

    report = deliver(con, chat, [one], min_interval_seconds=0.1)

    assert [p.status for p in chat.posts] == [429, 503, 500, 200]
    assert report.outcomes["delivered"] == 1
    assert ledger(con)[one.message_key][0] == "delivered"


def test_a_refused_webhook_fails_its_alerts_and_says_so_without_the_url(con, chat):
    team = alert(con, 1, kind="team_alert", space="ar_team")
    collections = alert(con, 2, kind="collections", space="collections")
    broken = chat.urls["ar_team"].replace("token=", "token=revoked")

    report = deliver(con, chat, [team, collections], ar_team_webhook=broken)

    status, reason, _ = ledger(con)[team.message_key]
    assert (status, reason) == ("failed", "chat 403 PERMISSION_DENIED")
    assert ledger(con)[collections.message_key][0] == "delivered"
    assert report.failures == {"chat 403 PERMISSION_DENIED": 1}


def test_a_message_over_32000_bytes_is_refused_by_chat(chat):
    import httpx

    body = {"text": "x" * 32_001}
    answer = httpx.post(chat.urls["ops"], json=body)

    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_sandbox_mode_records_each_message_in_the_outbox(con, chat, tmp_path):
    alerts = [alert(con, 7), alert(con, 7, kind="team_alert", space="ar_team")]
    outbox = Outbox(outbox_dir=str(tmp_path / "outbox"))

    deliver_alerts(con, GoogleChatResource(mode="outbox"), outbox, AS_OF, alerts,
                   {900: "spaces/AAAA900"})

    lines = [json.loads(x) for x in (tmp_path / "outbox" / "chat.jsonl").read_text()
             .splitlines()]
    assert [(x["kind"], x["space"], x["client_id"]) for x in lines] == [
        ("am_overdue", "spaces/AAAA900", 7), ("team_alert", "ar_team", 7)]
    assert all(x["body"]["thread"]["threadKey"] == "ar-7" for x in lines)
    assert not chat.posts
