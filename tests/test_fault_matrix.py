"""Exactly-once delivery under injected faults, channel by channel.

Every cell plans three messages on one channel, runs that channel's delivery step
while a fault is injected, lets the server recover, then runs the step twice more
(the retry, and a re-execution of the same step). Whatever the fault, each message
must reach the server at most once, and end either delivered (the server has it) or
failed/unknown in the ledger with a reason; a message left unknown is never resent.

Faults per channel, as the loopback servers' switches allow:
- refusals before acceptance (4xx, 5xx), a server that cannot be reached, and a
  timeout or a dropped connection after the content was handed over;
- a crash after the call returned but before the ledger write (the row stays in
  `sending`; the next step marks it unknown);
- a crash mid-batch, after the first two of three messages.

Real clients (smtplib, httpx, hubspot-api-client) against the sandboxes on
127.0.0.1; the ledger is a temporary DuckDB file.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pytest

from ar_assets.deliver.campaign.control import CampaignControlResource
from ar_assets.deliver.channels import DeliveryResult
from ar_assets.deliver.chat.transport import WebhookPoster
from ar_assets.deliver.email.addresses import Envelope
from ar_assets.deliver.email.smtp import SmtpSender
from ar_assets.deliver.hubspot.activities import log_activities, note_activity
from ar_assets.deliver.hubspot.client import HubSpotCrm
from ar_assets.deliver.hubspot.settings import HubSpotResource
from ar_assets.deliver.protocol import deliver_once, flag_interrupted
from ar_assets.ledger import LedgerEntry, claim_for_sending, ensure_ledger, record_plan
from ar_assets.sandbox.chat_server import ChatSandbox
from ar_assets.sandbox.hubspot_server import HubSpotSandbox
from ar_assets.sandbox.serve import serve_app
from ar_assets.sandbox.smtp_server import SmtpSandbox, serve_smtp, throwaway_certificate

AS_OF = date(2026, 6, 16)
AT = datetime(2026, 6, 16, 4, 0)
MESSAGES = 3
CRASH_AT = 1  # the crash after the call hits the second message
DONE_BEFORE_MID_BATCH_CRASH = 2  # the mid-batch crash comes after two of three
CLIENT_TIMEOUT = 0.5
SLOW_SERVER = 1.0  # longer than the client waits

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


class Crash(BaseException):  # noqa: N818 - it stands for the process stopping
    """The process stopping mid-step: nothing after it runs, no handler catches it."""


def no_sleep(_seconds: float) -> None:
    pass


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Fault:
    name: str
    # whether a message may stay unknown after the server recovered and the step ran again
    may_end_unknown: bool = False
    crash: str = ""  # "" | "after_call" | "mid_batch"
    disrupts: bool = True  # whether some message cannot be delivered while it lasts


REFUSALS_AND_OUTAGES = {
    "email": [Fault("451 at end of DATA"), Fault("550 recipient refused"),
              Fault("server unreachable"),
              Fault("connection dropped after DATA", may_end_unknown=True),
              Fault("timeout after DATA", may_end_unknown=True)],
    "chat": [Fault("400 refused"), Fault("503 on every attempt"), Fault("server unreachable"),
             Fault("timeout after the post", may_end_unknown=True)],
    "hubspot": [Fault("400 refused"), Fault("500 before storing", may_end_unknown=True),
                Fault("500 after storing", may_end_unknown=True),
                Fault("503 down", may_end_unknown=True), Fault("server unreachable"),
                Fault("timeout after the create", may_end_unknown=True)],
    # TODO: a campaign timeout cell, because the campaign webhook has no delay switch;
    # remove when hubspot_server's campaign route honours delay_seconds.
    "campaign": [Fault("400 refused"), Fault("503 on every attempt"),
                 Fault("503 once, then accepted", disrupts=False), Fault("server unreachable")],
}
CRASHES = [Fault("crash after the call, before the ledger write", may_end_unknown=True,
                 crash="after_call"),
           Fault("crash mid-batch after 2 of 3", may_end_unknown=True, crash="mid_batch")]
CELLS = [(channel, fault) for channel, faults in REFUSALS_AND_OUTAGES.items()
         for fault in [*faults, *CRASHES]]
RESULTS: list[dict] = []


# -- the channels ------------------------------------------------------------------------


class Channel:
    """One channel's server, its delivery step and what the server received per key."""

    name = ""

    def __init__(self, stack: ExitStack, cell: str) -> None:
        self.keys = [f"{self.name}-{cell}-{i}" for i in range(MESSAGES)]
        self.unreachable = False

    def inject(self, fault: Fault) -> None:
        raise NotImplementedError

    def heal(self) -> None:
        raise NotImplementedError

    def received(self, key: str) -> int:
        raise NotImplementedError

    def send_function(self) -> tuple[Callable[[str], DeliveryResult], Callable[[], None]]:
        raise NotImplementedError

    def step(self, con: duckdb.DuckDBPyConnection, crash: str = "") -> None:
        """One run of the channel's delivery step, as the deliver assets run it."""
        flag_interrupted(con, AS_OF, self.name)
        send, close = self.send_function()
        try:
            for i, key in enumerate(self.keys):
                if crash == "mid_batch" and i == DONE_BEFORE_MID_BATCH_CRASH:
                    raise Crash
                if crash == "after_call" and i == CRASH_AT:
                    assert claim_for_sending(con, key)
                    send(key)
                    raise Crash
                deliver_once(con, key, lambda k=key: send(k))
        finally:
            close()


class Email(Channel):
    name = "email"

    def __init__(self, stack: ExitStack, cell: str, tls) -> None:
        super().__init__(stack, cell)
        self.tls = tls
        self.server = SmtpSandbox()
        self.host, self.port = stack.enter_context(serve_smtp(self.server, tls[0]))

    def address(self, key: str) -> str:
        return f"{key}@client.test"

    def inject(self, fault: Fault) -> None:
        target = self.address(self.keys[CRASH_AT])
        if fault.name.startswith("451"):
            self.server.data_reply[target] = "451 4.3.0 Try again later"
        elif fault.name.startswith("550"):
            self.server.refuse_recipient[target] = "550 5.1.1 Mailbox unavailable"
        elif fault.name == "server unreachable":
            self.unreachable = True
        elif fault.name.startswith("connection dropped"):
            self.server.drop_after_data.add(target)
        elif fault.name.startswith("timeout"):
            self.server.stall_after_data[target] = SLOW_SERVER

    def heal(self) -> None:
        self.server.clear_faults()
        self.unreachable = False

    def received(self, key: str) -> int:
        return sum(self.address(key) in m.rcpt_tos for m in self.server.received)

    def send_function(self):
        sender = SmtpSender(
            live=True, host=self.host, port=closed_port() if self.unreachable else self.port,
            username=self.server.username, password=self.server.password,
            cafile=self.tls[1], starttls=True, allow_test_domains=True,
            timeout_seconds=CLIENT_TIMEOUT, data_timeout_seconds=CLIENT_TIMEOUT,
        )
        batch = sender.open_batch()

        def send(key: str) -> DeliveryResult:
            eml = (f"From: ar@sender.test\r\nTo: {self.address(key)}\r\n"
                   f"Subject: Overdue invoices {key}\r\n\r\nEUR 980.40 is overdue.\r\n").encode()
            outcome = batch.send(eml, Envelope("ar@sender.test", (self.address(key),), ()))
            return DeliveryResult(outcome.status, outcome.reason)

        return send, batch.close


class Chat(Channel):
    name = "chat"

    def __init__(self, stack: ExitStack, cell: str) -> None:
        super().__init__(stack, cell)
        self.server = ChatSandbox()
        self.server.faults.messages_per_second = 1000
        base = stack.enter_context(serve_app(self.server.app))
        space = f"FM{abs(hash(cell)) % 10**8}"
        self.url = self.server.webhook_url(base, space)
        self.dead_url = self.url.replace(base, f"http://127.0.0.1:{closed_port()}")

    def inject(self, fault: Fault) -> None:
        if fault.name.startswith("400"):
            self.server.faults.fail_statuses = [400]
        elif fault.name.startswith("503"):
            self.server.faults.down = True
        elif fault.name == "server unreachable":
            self.unreachable = True
        elif fault.name.startswith("timeout"):
            self.server.faults.delay_seconds = SLOW_SERVER

    def heal(self) -> None:
        slow = self.server.faults.delay_seconds
        self.server.faults.fail_statuses = []
        self.server.faults.down = False
        self.server.faults.delay_seconds = 0.0
        self.unreachable = False
        time.sleep(slow)  # the slow answers finish on the server before anyone counts

    def received(self, key: str) -> int:
        return sum((p.body or {}).get("text") == f"Alert {key}" for p in self.server.messages())

    def send_function(self):
        poster = WebhookPoster(min_interval=0.0, max_attempts=3, backoff=0.0,
                               timeout=CLIENT_TIMEOUT, sleep=no_sleep)
        url = self.dead_url if self.unreachable else self.url
        return (lambda key: poster.post(url, {"text": f"Alert {key}"})), poster.close


class Campaign(Channel):
    name = "campaign"

    def __init__(self, stack: ExitStack, cell: str) -> None:
        super().__init__(stack, cell)
        self.server = HubSpotSandbox()
        base = stack.enter_context(serve_app(self.server.app))
        self.url = f"{base}/_campaign/holds?token={self.server.campaign_token}"
        self.dead_url = self.url.replace(base, f"http://127.0.0.1:{closed_port()}")

    def inject(self, fault: Fault) -> None:
        if fault.name.startswith("400"):
            self.server.faults.campaign_fail_statuses = [400]
        elif fault.name.startswith("503 on every"):
            self.server.faults.campaign_fail_statuses = [503] * 3
        elif fault.name.startswith("503 once"):
            self.server.faults.campaign_fail_statuses = [503]
        elif fault.name == "server unreachable":
            self.unreachable = True

    def heal(self) -> None:
        self.server.faults.campaign_fail_statuses = []
        self.unreachable = False

    def received(self, key: str) -> int:
        return sum(c["idempotency_key"] == key for c in self.server.campaign_calls)

    def send_function(self):
        control = CampaignControlResource(
            webhook_url=self.dead_url if self.unreachable else self.url, mode="webhook",
            max_attempts=3, backoff_seconds=0.0, timeout_seconds=CLIENT_TIMEOUT)

        def send(key: str) -> DeliveryResult:
            client_id = self.keys.index(key) + 101
            payload = {"action": "place", "netsuite_customer_id": str(client_id),
                       "client_name": f"C{client_id} Trading", "reason": "tier 3 overdue",
                       "as_of": AS_OF.isoformat(), "message_key": key}
            return control.send(payload, key, sleep=no_sleep)

        return send, lambda: None


class CrashingCrm(HubSpotCrm):
    """The real client, with the process stopping around its Nth create call."""

    crash_after_create: int | None = None
    crash_before_create: int | None = None
    creates = 0

    def create_batch(self, object_type, chunk):
        self.creates += 1
        if self.creates == self.crash_before_create:
            raise Crash
        outcomes = super().create_batch(object_type, chunk)
        if self.creates == self.crash_after_create:
            raise Crash
        return outcomes


class HubSpot(Channel):
    name = "hubspot"

    def __init__(self, stack: ExitStack, cell: str) -> None:
        super().__init__(stack, cell)
        self.client_ids = [201 + i for i in range(MESSAGES)]
        self.server = HubSpotSandbox([(str(c), f"C{c} Trading") for c in self.client_ids])
        self.base = stack.enter_context(serve_app(self.server.app))
        self.activities = [
            note_activity(key, f"hold-{key}", "hold_placed", cid, AT, AS_OF.isoformat(), 3,
                          {"EUR": "980.40"})
            for key, cid in zip(self.keys, self.client_ids, strict=True)
        ]
        self.next_crm: CrashingCrm | None = None

    def crm(self, host: str | None = None) -> CrashingCrm:
        resource = HubSpotResource(host=host or self.base, access_token=self.server.token,
                                   mode="api", backoff_seconds=0.01,
                                   rate_limit_backoff_seconds=0.01, max_attempts=3,
                                   batch_size=1, timeout_seconds=CLIENT_TIMEOUT)
        return CrashingCrm(resource.settings())

    def inject(self, fault: Fault) -> None:
        if fault.name == "server unreachable":
            self.next_crm = self.crm(f"http://127.0.0.1:{closed_port()}")
            return
        # The step's company lookup is made before the fault, so the fault meets the create.
        self.next_crm = self.crm()
        self.next_crm.find_companies(str(c) for c in self.client_ids)
        faults = self.server.faults
        if fault.name.startswith("400"):
            faults.fail_statuses = [400]
        elif fault.name.startswith("500 before"):
            faults.fail_statuses = [500]
        elif fault.name.startswith("500 after"):
            faults.commit_then_fail = 1
        elif fault.name.startswith("503"):
            faults.down = True
        elif fault.name.startswith("timeout"):
            faults.delay_seconds = SLOW_SERVER

    def heal(self) -> None:
        slow = self.server.faults.delay_seconds
        faults = self.server.faults
        faults.fail_statuses, faults.commit_then_fail = [], 0
        faults.down, faults.delay_seconds = False, 0.0
        time.sleep(slow)

    def received(self, key: str) -> int:
        return sum(n["properties"].get("ar_message_key") == key
                   for n in self.server.activities("notes"))

    def step(self, con: duckdb.DuckDBPyConnection, crash: str = "") -> None:
        flag_interrupted(con, AS_OF, self.name)
        crm, self.next_crm = self.next_crm or self.crm(), None
        if crash == "after_call":
            crm.crash_after_create = CRASH_AT + 1
        elif crash == "mid_batch":
            crm.crash_before_create = DONE_BEFORE_MID_BATCH_CRASH + 1
        self.report = log_activities(con, crm, self.activities)


# -- the matrix ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return throwaway_certificate(tmp_path_factory.mktemp("tls"))


def ledger(con, keys) -> dict[str, tuple]:
    rows = con.execute("select message_key, status, reason, attempts from ops.ledger "
                       "where list_contains(?::varchar[], message_key)", [keys]).fetchall()
    return {k: (status, reason, attempts) for k, status, reason, attempts in rows}


def run_cell(channel: Channel, fault: Fault, con) -> dict:
    record_plan(con, [LedgerEntry(k, AS_OF, channel.name, "fault_matrix", 100 + i, "planned")
                      for i, k in enumerate(channel.keys)])
    channel.inject(fault)
    try:
        channel.step(con, crash=fault.crash)
    except Crash:
        pass
    channel.heal()
    after_fault = ledger(con, channel.keys)
    flag_interrupted(con, AS_OF, channel.name)  # what the retry's step does first
    open_after_fault = {k: row for k, row in ledger(con, channel.keys).items()
                        if row[0] == "unknown"}
    sent_while_open = {k: channel.received(k) for k in open_after_fault}

    channel.step(con)  # the retry
    channel.step(con)  # the same step executed once more
    final = ledger(con, channel.keys)

    problems = []
    duplicates = lost = 0
    for key in channel.keys:
        status, reason, attempts = final[key]
        copies = channel.received(key)
        if copies > 1:
            duplicates += 1
            problems.append(f"{key}: server holds {copies} copies")
        if key in open_after_fault:
            if copies != sent_while_open[key]:
                duplicates += 1
                problems.append(f"{key}: resent after its outcome was unknown")
            if attempts != open_after_fault[key][2]:
                problems.append(f"{key}: claimed again after its outcome was unknown")
        if status == "delivered" and copies != 1:
            lost += 1
            problems.append(f"{key}: delivered in the ledger, {copies} on the server")
        elif status == "unknown":
            if not fault.may_end_unknown:
                lost += 1
                problems.append(f"{key}: unknown after a fault that cannot leave it open")
            if not reason:
                lost += 1
                problems.append(f"{key}: unknown without a reason")
        elif status != "delivered":
            lost += 1
            problems.append(f"{key}: ended {status} ({reason}) after the server recovered")
    for key, (status, reason, _) in after_fault.items():
        if status in ("failed", "unknown") and not reason:
            lost += 1
            problems.append(f"{key}: {status} without a reason after the fault")
    if fault.disrupts and all(after_fault[k][0] == "delivered" for k in channel.keys):
        problems.append("the fault did not take effect: every message went through")
    statuses = [final[k][0] for k in channel.keys]
    return {"channel": channel.name, "fault": fault.name, "messages": len(channel.keys),
            "after_fault": ",".join(after_fault[k][0] for k in channel.keys),
            "delivered": statuses.count("delivered"), "unknown": statuses.count("unknown"),
            "duplicates": duplicates, "lost": lost, "problems": problems}


@pytest.mark.parametrize(("channel_name", "fault"), CELLS,
                         ids=[f"{c}-{f.name}" for c, f in CELLS])
def test_each_message_reaches_the_server_at_most_once_and_is_never_silently_lost(
        channel_name, fault, tls, tmp_path):
    cell = f"c{CELLS.index((channel_name, fault))}"
    with ExitStack() as stack, duckdb.connect(str(tmp_path / "ar.duckdb")) as con:
        ensure_ledger(con)
        channel = {"email": lambda: Email(stack, cell, tls),
                   "chat": lambda: Chat(stack, cell),
                   "hubspot": lambda: HubSpot(stack, cell),
                   "campaign": lambda: Campaign(stack, cell)}[channel_name]()
        result = run_cell(channel, fault, con)
    RESULTS.append(result)
    assert not result["problems"], "\n".join(result["problems"])


def matrix_table(results: list[dict]) -> str:
    lines = [f"{'channel':9} {'fault':46} {'after fault':34} dlv unk dup lost"]
    for r in results:
        lines.append(f"{r['channel']:9} {r['fault']:46} {r['after_fault']:34} "
                     f"{r['delivered']:3} {r['unknown']:3} {r['duplicates']:3} {r['lost']:4}")
    passed = sum(not r["problems"] for r in results)
    duplicates = sum(r["duplicates"] for r in results)
    lost = sum(r["lost"] for r in results)
    lines.append(f"fault matrix: {len(results)} cells, {passed} passed, "
                 f"{duplicates} duplicates, {lost} lost")
    return "\n".join(lines)


def test_the_fault_matrix_has_no_duplicates_and_no_losses():
    if not RESULTS:
        pytest.skip("the matrix cells did not run in this session")
    table = matrix_table(RESULTS)
    print("\n" + table)
    assert len(RESULTS) == len(CELLS), table
    assert all(not r["problems"] for r in RESULTS), table
    assert sum(r["duplicates"] for r in RESULTS) == 0, table
    assert sum(r["lost"] for r in RESULTS) == 0, table


def test_hubspot_notes_left_unknown_by_an_outage_are_created_once_after_the_search_finds_none(
        tmp_path):
    with ExitStack() as stack, duckdb.connect(str(tmp_path / "ar.duckdb")) as con:
        ensure_ledger(con)
        channel = HubSpot(stack, "aged")
        result = run_cell(channel, Fault("503 down", may_end_unknown=True), con)
        assert result["unknown"] == MESSAGES, result
        # Ten minutes on, the step searches each key, finds none, and creates each once.
        con.execute("update ops.ledger set sending_at = sending_at - interval 11 minute "
                    "where status = 'unknown'")
        channel.step(con)
        channel.step(con)
        rows = ledger(con, channel.keys)
        assert {k: rows[k][0] for k in channel.keys} == dict.fromkeys(channel.keys, "delivered")
        assert [channel.received(k) for k in channel.keys] == [1] * MESSAGES
