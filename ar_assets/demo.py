"""Replays public AR history and one synthetic day through the real daily run.

Starts the sandbox NetSuite server on loopback, then runs the daily job once
per business date in this one process (dbt and Dagster start once), and prints
a table per day: clients evaluated, client emails, pre-due alerts, overdue
alerts, clients per tier, skips by reason, and the time each stage took.

    python -m ar_assets.demo [--start 2013-03-01] [--days 60] [--clients 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb

from ar_assets.policy import PROJECT_ROOT
from ar_assets.sandbox.session import SandboxSession

STAGES = {
    "netsuite_raw": "land",
    "dbt_models": "model",
    "plan__messages": "plan",
    "render__outgoing": "render",
}


def day_summary(db_path: str, as_of: date) -> dict:
    """Counts what the ledger recorded for one business date."""
    with duckdb.connect(db_path, read_only=True) as con:
        rows = con.execute(
            "select kind, status, reason, tier, channel from ops.ledger where as_of = ?",
            [as_of],
        ).fetchall()
        tiers = dict(
            con.execute("select tier, count(*) from marts.fct_client_status group by tier")
            .fetchall()
        )
    delivered = Counter(
        kind for kind, status, _, _, channel in rows
        if status == "delivered" and (channel != "chat" or kind.startswith("am_"))
    )
    skips = Counter(
        (reason or "").split(":")[0]
        for kind, status, reason, *_ in rows
        if kind == "client_overdue" and status == "skipped"
    )
    evaluated = sum(1 for kind, *_ in rows if kind == "client_overdue")
    return {
        "evaluated": evaluated,
        "emails": delivered["client_overdue"],
        "predue": delivered["am_predue"],
        "overdue_alerts": delivered["am_overdue"],
        "holds": delivered["hold_placed"],
        "tiers": {t: tiers.get(t, 0) for t in range(4)},
        "skips": skips,
    }


def stage_seconds(session: SandboxSession, run_id: str) -> dict[str, float]:
    """Seconds per stage (land, model, plan, render, deliver) of one run."""
    spent: dict[str, float] = defaultdict(float)
    for step, seconds in session.step_seconds(run_id).items():
        spent[STAGES.get(step, "deliver")] += seconds
    return dict(spent)


def print_header(title: str) -> None:
    print(f"\n{title}")
    print(
        f"{'as_of':<11}{'eval':>6}{'email':>6}{'predue':>7}{'overdue':>8}{'hold':>5}"
        f"  {'tier0/1/2/3':<14}{'land':>6}{'model':>6}{'plan':>6}{'render':>7}{'deliver':>8}"
        "  skips by reason"
    )


def print_day(as_of: date, s: dict, secs: dict[str, float]) -> None:
    tiers = "/".join(str(s["tiers"][t]) for t in range(4))
    skips = ", ".join(f"{k} {n}" for k, n in sorted(s["skips"].items()))
    print(
        f"{as_of.isoformat():<11}{s['evaluated']:>6}{s['emails']:>6}{s['predue']:>7}"
        f"{s['overdue_alerts']:>8}{s['holds']:>5}  {tiers:<14}"
        f"{secs.get('land', 0):>6.1f}{secs.get('model', 0):>6.1f}{secs.get('plan', 0):>6.1f}"
        f"{secs.get('render', 0):>7.1f}{secs.get('deliver', 0):>8.1f}  {skips}"
    )


def replay(session: SandboxSession, days: list[date], title: str) -> Counter:
    """Runs the daily job for each date in order; returns totals over the window."""
    totals: Counter = Counter()
    print_header(title)
    for as_of in days:
        result = session.run_day(as_of)
        summary = day_summary(session.duckdb_path, as_of)
        print_day(as_of, summary, stage_seconds(session, result.run_id))
        if not result.success:
            raise SystemExit(f"the daily run failed for {as_of}; see the ops alert in the outbox")
        for key in ("emails", "predue", "overdue_alerts", "holds"):
            totals[key] += summary[key]
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2013-03-01", type=date.fromisoformat)
    parser.add_argument("--days", default=60, type=int)
    parser.add_argument("--clients", default=300, type=int)
    parser.add_argument("--synthetic-date", default="2026-06-16", type=date.fromisoformat)
    parser.add_argument("--out", default=str(PROJECT_ROOT / "var" / "demo"))
    parser.add_argument(
        "--servers", action="store_true",
        help="deliver the synthetic day to loopback HubSpot and Chat servers, not the outbox",
    )
    args = parser.parse_args()

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    began = time.perf_counter()

    ibm_days = [args.start + timedelta(days=i) for i in range(args.days)]
    with SandboxSession.start("ibm", out / "ibm") as session:
        totals = replay(session, ibm_days, f"Public AR history (IBM sample), {args.days} days")
        print(f"IBM totals: {dict(totals)}")
        ibm_paths = (session.duckdb_path, session.outbox_dir)

    with SandboxSession.start(
        "synthetic", out / "synthetic", clients=args.clients, as_of=args.synthetic_date,
        delivery_servers=args.servers,
    ) as session:
        replay(session, [args.synthetic_date], f"Synthetic ledger, {args.clients} clients")
        synthetic_paths = (session.duckdb_path, session.outbox_dir)

    print(f"\nfinished in {time.perf_counter() - began:.0f} s")
    for name, (db, outbox) in (("IBM", ibm_paths), ("synthetic", synthetic_paths)):
        print(f"{name}: DuckDB {db}  outbox {outbox}")
    query = "select as_of, kind, status, reason from ops.ledger order by as_of"
    print(
        "query the ledger: uv run python -c \"import duckdb; "
        f"duckdb.connect('{synthetic_paths[0]}', read_only=True).sql('{query}').show()\""
    )


if __name__ == "__main__":
    os.environ.setdefault("AR_MODE", "sandbox")
    main()
