"""Client overdue emails: handed to the sandbox outbox or to SMTP, each exactly once."""

import json
import time
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from ar_assets.deliver.channels import DeliveryResult, Outbox
from ar_assets.deliver.dry_run import dry_run_requested, report_dry_run
from ar_assets.deliver.email.addresses import INVALID_ADDRESS, InvalidEnvelope, message_envelope
from ar_assets.deliver.email.failures import record_failure_alert, refusal_note
from ar_assets.deliver.email.holds import HELD_NOTE, clients_with_unknown_email, hold_email
from ar_assets.deliver.email.smtp import Refusal, SmtpBatch, SmtpSender
from ar_assets.deliver.protocol import deliver_once, flag_interrupted, pending_outgoing
from ar_assets.partitions import daily_partitions, one_day_per_run, partition_date
from ar_assets.resources import Warehouse


class _EmailTransport:
    """Sends one rendered message after checking its envelope; remembers refusals."""

    def __init__(self, smtp: SmtpSender, outbox: Outbox, batch: SmtpBatch | None, as_of: str):
        self.smtp = smtp
        self.outbox = outbox
        self.batch = batch
        self.as_of = as_of
        self.refused: dict[str, tuple[Refusal, ...]] = {}
        self.reasons: Counter = Counter()

    def send(self, key: str, eml_path: str | None, body: str | None) -> DeliveryResult:
        result = self._send(key, eml_path, body)
        if result.status != "delivered":
            self.reasons[(result.reason or result.status).split(":")[0]] += 1
        return result

    def _send(self, key: str, eml_path: str | None, body: str | None) -> DeliveryResult:
        if not eml_path:
            # Render could not build the message (an address that would add a
            # header or recipient); it is failed here, where outcomes are recorded.
            reason = json.loads(body or "{}").get("undeliverable") or "not rendered"
            return DeliveryResult("failed", reason)
        try:
            eml = Path(eml_path).read_bytes()
        except OSError:
            return DeliveryResult("failed", "rendered message missing")
        message = message_from_bytes(eml, policy=policy.default)
        try:
            envelope = message_envelope(message, allow_test_domains=self.smtp.allow_test_domains)
        except InvalidEnvelope:
            return DeliveryResult("failed", INVALID_ADDRESS)
        if self.batch is None:
            return self.outbox.write_email(self.as_of, key, eml)

        outcome = self.batch.send(eml, envelope)
        if outcome.refused and outcome.status == "delivered":
            self.refused[key] = outcome.refused
        external_id = str(message["Message-ID"]) if outcome.status == "delivered" else None
        return DeliveryResult(outcome.status, outcome.reason, external_id)


@asset(
    key=AssetKey(["deliver", "client_emails"]),
    deps=[AssetKey(["render", "outgoing"])],
    partitions_def=daily_partitions,
    backfill_policy=one_day_per_run,
    group_name="deliver",
    kinds={"email"},
)
def deliver_client_emails(
    context: AssetExecutionContext, warehouse: Warehouse, outbox: Outbox, smtp: SmtpSender
) -> MaterializeResult:
    """Client overdue emails handed to the outbox (sandbox) or SMTP (live), each once;
    the outcome of every message is in ops.ledger, and the day's failed or unknown
    ones are listed in one ops alert for the Chat step. A client whose earlier email
    has an unknown outcome gets no new one until ops settle it."""
    as_of = partition_date(context.partition_key)
    with warehouse.connect() as con:
        pending = pending_outgoing(con, as_of, "email")
        if dry_run_requested(smtp.dry_run):
            return report_dry_run(context, "client emails", len(pending))

        outcomes: Counter = Counter()
        flagged = flag_interrupted(con, as_of, "email")
        outcomes["interrupted"] = len(flagged)
        began = time.perf_counter()
        batch = smtp.open_batch() if smtp.live else None
        transport = _EmailTransport(smtp, outbox, batch, as_of.isoformat())
        unsettled = clients_with_unknown_email(con, as_of)
        notes: dict[str, str] = {}
        try:
            for key, _, client_id, eml_path, body in pending:
                if client_id in unsettled:
                    hold_email(con, key)
                    notes[key] = HELD_NOTE
                    outcomes["held"] += 1
                    continue
                send = lambda k=key, p=eml_path, b=body: transport.send(k, p, b)  # noqa: E731
                outcomes[deliver_once(con, key, send)] += 1
        finally:
            if batch is not None:
                batch.close()
        seconds = time.perf_counter() - began
        notes |= {key: refusal_note(refused) for key, refused in transport.refused.items()}
        alerted = record_failure_alert(con, as_of, flagged, notes)

    sent = outcomes["delivered"] + outcomes["failed"] + outcomes["unknown"]
    context.log.info(
        f"client emails: {outcomes['delivered']} delivered, {outcomes['failed']} failed, "
        f"{outcomes['unknown']} unknown, {outcomes['held']} held behind an unknown one, "
        f"{outcomes['interrupted']} interrupted earlier; "
        f"{len(transport.refused)} delivered with a refused recipient; "
        f"{alerted} listed in the ops alert"
    )
    reasons = "\n".join(f"| {r} | {n} |" for r, n in sorted(transport.reasons.items()))
    metadata = {k: int(v) for k, v in sorted(outcomes.items())}
    metadata |= {
        "transport": "smtp" if smtp.live else "outbox",
        "partly_refused": len(transport.refused),
        "ops_alert_lines": alerted,
        "not_delivered_by_reason": MetadataValue.md(
            f"| reason | n |\n|---|---|\n{reasons}" if reasons else "none"
        ),
    }
    if batch is not None:
        metadata["smtp_connections"] = batch.connections
    if sent:
        metadata["seconds_per_email"] = MetadataValue.float(round(seconds / sent, 4))
    return MaterializeResult(metadata=metadata)
