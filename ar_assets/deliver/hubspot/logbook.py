"""Logging activities in the mode of the run: to HubSpot, or to the sandbox outbox."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import duckdb

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.ops import send_ops_alert
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.deliver.hubspot.activities import Activity, ActivityReport, log_activities
from ar_assets.deliver.hubspot.client import HubSpotCrm
from ar_assets.deliver.hubspot.settings import HubSpotResource
from ar_assets.deliver.protocol import deliver_once
from ar_assets.ledger import utcnow
from ar_assets.plan.messages import message_key


def outbox_record(activity: Activity) -> tuple[str, dict]:
    """The sandbox outbox line of an activity: (outbox channel, record)."""
    props = activity.properties
    common = {"message_key": activity.message_key,
              "netsuite_customer_id": str(activity.client_id),
              "hs_timestamp": int(props["hs_timestamp"])}
    if activity.object_type == "notes":
        return "hubspot_notes", {**common, "source_key": activity.source_key,
                                 "hs_note_body": props["hs_note_body"]}
    return "hubspot", {**common, "email_message_key": activity.source_key,
                       "hs_email_subject": props["hs_email_subject"],
                       "hs_email_direction": props["hs_email_direction"],
                       "hs_email_status": props["hs_email_status"]}


COMPANIES_DDL = """
create schema if not exists ops;
create table if not exists ops.hubspot_companies (
    netsuite_customer_id varchar primary key,
    hubspot_company_id varchar,
    match_count integer not null,
    checked_at timestamp not null
);
"""


def remember_companies(con: duckdb.DuckDBPyConnection, crm: HubSpotCrm) -> int:
    """Keeps the run's company lookups in ops.hubspot_companies, so Chat cards and
    analysts can link a client to its HubSpot company (id only when exactly one)."""
    known = crm.known_companies()
    if not known:
        return 0
    con.execute(COMPANIES_DDL)
    con.executemany(
        "insert or replace into ops.hubspot_companies values (?, ?, ?, ?)",
        [(netsuite_id, ids[0] if len(ids) == 1 else None, len(ids), utcnow())
         for netsuite_id, ids in sorted(known.items())],
    )
    return len(known)


@dataclass
class LoggingResult:
    report: ActivityReport
    calls: Counter = field(default_factory=Counter)


def log_in_mode(con: duckdb.DuckDBPyConnection, hubspot: HubSpotResource, outbox: Outbox,
                chat: GoogleChatResource, as_of: date, activities: list[Activity],
                crm: HubSpotCrm | None = None) -> LoggingResult:
    """Logs the activities; company-matching problems go to ops in one alert a day."""
    if not hubspot.uses_api():
        report = ActivityReport()
        for activity in activities:
            channel, record = outbox_record(activity)
            send = lambda c=channel, r=record: outbox.append(c, r)  # noqa: E731
            report.outcomes[deliver_once(con, activity.message_key, send)] += 1
        return LoggingResult(report)
    crm = crm or hubspot.crm()
    report = log_activities(con, crm, activities)
    remember_companies(con, crm)
    if report.problems:
        send_ops_alert(con, chat, outbox, as_of,
                       message_key(as_of, "ops_alert", "hubspot_company_match"),
                       "HubSpot company not matched; activities not logged",
                       sorted(set(report.problems)))
    return LoggingResult(report, crm.calls)
