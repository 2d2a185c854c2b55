"""An independent oracle for the daily run over IBM's public late-payment history.

Reads the CSV with nothing but the standard library and applies SPEC section 3
as written, for this dataset only: every invoice is USD, open from InvoiceDate
until the day before SettledDate (paid on and after it), disputed while open
when Disputed = Yes; no credits, no exclusions, every client has a billing
contact. A run is assumed on every day of the window, starting on its first
day, so cadence counts only emails sent within the window.

    python scripts/ibm_oracle.py oracle --start 2013-03-01 --days 60 --threshold 10
    python scripts/ibm_oracle.py compare --start 2013-03-01 --days 60 --threshold 10

`oracle` prints, per business date, the invoices whose pre-due AM alert is first
sent that day and the clients (customerID) emailed that day. `compare` replays
the same window through the product (sandbox NetSuite + the real daily job)
and prints every difference day by day; it exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IBM_CSV = PROJECT_ROOT / "data" / "ibm-ar-late-payment-histories.csv"
POLICY_YAML = PROJECT_ROOT / "policy.yaml"

# SPEC section 3 defaults that this oracle does not take as arguments.
CADENCE_DAYS = 14
LATE_PAYER_LOOKBACK_DAYS = 365


@dataclass(frozen=True)
class IbmInvoice:
    number: str
    client: str
    territory: str
    invoice_date: date
    due_date: date
    amount: Decimal
    is_disputed: bool
    settled_date: date

    def is_open(self, as_of: date) -> bool:
        """Exists from InvoiceDate; paid in full on and after SettledDate."""
        return self.invoice_date <= as_of < self.settled_date

    def was_paid_late(self) -> bool:
        return self.settled_date > self.due_date


@dataclass(frozen=True)
class DayOutcome:
    as_of: date
    predue_invoices: tuple[str, ...]
    emailed_clients: tuple[str, ...]


def _us_date(text: str) -> date:
    month, day, year = (int(part) for part in text.strip().split("/"))
    return date(year, month, day)


def read_ibm_invoices(path: str | Path = IBM_CSV) -> list[IbmInvoice]:
    """Every row of the CSV as an invoice, amounts as exact decimals."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            IbmInvoice(
                number=row["invoiceNumber"].strip(),
                client=row["customerID"].strip(),
                territory=row["countryCode"].strip(),
                invoice_date=_us_date(row["InvoiceDate"]),
                due_date=_us_date(row["DueDate"]),
                amount=Decimal(row["InvoiceAmount"].strip()),
                is_disputed=row["Disputed"].strip() == "Yes",
                settled_date=_us_date(row["SettledDate"]),
            )
            for row in csv.DictReader(handle)
        ]


def late_payers(
    invoices: list[IbmInvoice], as_of: date, lookback_days: int = LATE_PAYER_LOOKBACK_DAYS,
    *, through_as_of: bool = False,
) -> set[str]:
    """Clients with an invoice settled after its due date within the `lookback_days`
    days before `as_of`: as_of - lookback <= settled <= as_of - 1. SPEC 3 says "before
    as_of" here and "before or on as_of" for offences; `through_as_of` also counts a
    settlement on as_of itself, to measure what that other reading changes."""
    first = as_of - timedelta(days=lookback_days)
    last = as_of if through_as_of else as_of - timedelta(days=1)
    return {
        inv.client for inv in invoices
        if inv.was_paid_late() and first <= inv.settled_date <= last
    }


def predue_candidates(
    invoices: list[IbmInvoice], as_of: date, window_days: int, *, through_as_of: bool = False,
) -> set[str]:
    """Open invoices of late payers with 0 <= due_date - as_of <= window, disputed included."""
    payers = late_payers(invoices, as_of, through_as_of=through_as_of)
    return {
        inv.number for inv in invoices
        if inv.client in payers
        and inv.is_open(as_of)
        and 0 <= (inv.due_date - as_of).days <= window_days
    }


def overdue_clients(invoices: list[IbmInvoice], as_of: date, threshold_days: int) -> set[str]:
    """Clients with an open, undisputed invoice at dpd >= threshold."""
    return {
        inv.client for inv in invoices
        if inv.is_open(as_of)
        and not inv.is_disputed
        and (as_of - inv.due_date).days >= threshold_days
    }


def replay_oracle(
    invoices: list[IbmInvoice], days: list[date], *, threshold_days: int = 31,
    window_days: int = 10, cadence_days: int = CADENCE_DAYS,
    late_payer_through_as_of: bool = False,
) -> list[DayOutcome]:
    """What SPEC 3 sends on each day of `days`, run in order, one run per day."""
    alerted: set[str] = set()
    last_email: dict[str, date] = {}
    out = []
    for as_of in days:
        predue = predue_candidates(
            invoices, as_of, window_days, through_as_of=late_payer_through_as_of,
        ) - alerted
        alerted |= predue

        # eligible when no client email was delivered in the cadence - 1 days before
        emailed = {
            client for client in overdue_clients(invoices, as_of, threshold_days)
            if client not in last_email or (as_of - last_email[client]).days >= cadence_days
        }
        for client in emailed:
            last_email[client] = as_of

        out.append(DayOutcome(as_of, tuple(sorted(predue)), tuple(sorted(emailed))))
    return out


def window_days_of(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


def write_policy(threshold_days: int, window_days: int, folder: Path) -> Path:
    """A copy of policy.yaml with the overdue threshold and pre-due window replaced."""
    import yaml

    policy = yaml.safe_load(POLICY_YAML.read_text()) or {}
    policy["overdue_threshold_days"] = threshold_days
    policy["predue_window_days"] = window_days
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


@dataclass(frozen=True)
class ProductDay:
    outcome: DayOutcome
    success: bool
    # client_overdue rows neither delivered nor skipped, e.g. ("1042", "failed", reason)
    other_email_rows: tuple[tuple[str, str, str], ...]
    predue_not_delivered: tuple[tuple[str, str], ...]


def read_product_day(duckdb_path: str, as_of: date, success: bool) -> ProductDay:
    """What the product's ledger recorded for one day, named by customerID / tranid."""
    import duckdb

    with duckdb.connect(duckdb_path, read_only=True) as con:
        codes = dict(con.execute("select id, entityid from raw.netsuite_customers").fetchall())
        rows = con.execute(
            "select kind, client_id, invoice_ids, status, reason from ops.ledger"
            " where as_of = ? and kind in ('am_predue', 'client_overdue')",
            [as_of],
        ).fetchall()

    predue, emailed, other, predue_other = set(), set(), [], []
    for kind, client_id, invoice_ids, status, reason in rows:
        client = codes.get(client_id, str(client_id))
        if kind == "am_predue":
            if status == "delivered":
                predue.update(invoice_ids or ())
            else:
                predue_other.append((",".join(invoice_ids or ()), status))
        elif status == "delivered":
            emailed.add(client)
        elif status != "skipped":
            other.append((client, status, reason or ""))
    return ProductDay(
        DayOutcome(as_of, tuple(sorted(predue)), tuple(sorted(emailed))),
        success, tuple(sorted(other)), tuple(sorted(predue_other)),
    )


def replay_product(
    days: list[date], workdir: Path, *, threshold_days: int = 31, window_days: int = 10,
    log=None,
) -> list[ProductDay]:
    """Runs the real daily job over the IBM sandbox once per day, in order."""
    import os

    from ar_assets.sandbox.session import SandboxSession

    workdir.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("AR_POLICY_PATH")
    os.environ["AR_POLICY_PATH"] = str(write_policy(threshold_days, window_days, workdir))
    try:
        out = []
        with SandboxSession.start("ibm", workdir / "run", as_of=days[0]) as session:
            for as_of in days:
                result = session.run_day(as_of)
                day = read_product_day(session.duckdb_path, as_of, result.success)
                if log is not None:
                    log(f"{as_of} product: {len(day.outcome.predue_invoices)} pre-due, "
                        f"{len(day.outcome.emailed_clients)} emails, success={day.success}")
                out.append(day)
        return out
    finally:
        if saved is None:
            os.environ.pop("AR_POLICY_PATH", None)
        else:
            os.environ["AR_POLICY_PATH"] = saved


def differences(expected: list[DayOutcome], actual: list[ProductDay]) -> list[str]:
    """Every disagreement, one line each, in date order."""
    lines = []
    for want, got in zip(expected, actual, strict=True):
        day = want.as_of.isoformat()
        if not got.success:
            lines.append(f"{day} the daily run did not succeed")
        for label, wanted, seen in (
            ("pre-due", want.predue_invoices, got.outcome.predue_invoices),
            ("email", want.emailed_clients, got.outcome.emailed_clients),
        ):
            missing = sorted(set(wanted) - set(seen))
            extra = sorted(set(seen) - set(wanted))
            if missing:
                lines.append(f"{day} {label} expected but not delivered: {missing}")
            if extra:
                lines.append(f"{day} {label} delivered but not expected: {extra}")
        for client, status, reason in got.other_email_rows:
            lines.append(f"{day} email for {client} ended {status}: {reason}")
        for invoice, status in got.predue_not_delivered:
            lines.append(f"{day} pre-due alert for {invoice} ended {status}")
    return lines


def _print_outcomes(outcomes: list[DayOutcome]) -> None:
    for day in outcomes:
        print(json.dumps({
            "as_of": day.as_of.isoformat(),
            "predue_invoices": list(day.predue_invoices),
            "emailed_clients": list(day.emailed_clients),
        }))
    print(
        f"total: {sum(len(d.predue_invoices) for d in outcomes)} pre-due alerts, "
        f"{sum(len(d.emailed_clients) for d in outcomes)} client emails "
        f"over {len(outcomes)} days"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["oracle", "compare"])
    parser.add_argument("--start", default="2013-03-01", type=date.fromisoformat)
    parser.add_argument("--days", default=60, type=int)
    parser.add_argument("--threshold", default=31, type=int)
    parser.add_argument("--window", default=10, type=int)
    parser.add_argument("--csv", default=str(IBM_CSV))
    parser.add_argument("--workdir", default=None, help="product warehouse folder (compare)")
    parser.add_argument(
        "--from-warehouse", default=None,
        help="compare with the ledger of this DuckDB file instead of replaying",
    )
    parser.add_argument(
        "--late-payer-through-as-of", action="store_true",
        help="also count a late payment settled on as_of itself (not SPEC 3's words)",
    )
    args = parser.parse_args(argv)

    days = window_days_of(args.start, args.days)
    expected = replay_oracle(
        read_ibm_invoices(args.csv), days, threshold_days=args.threshold,
        window_days=args.window, late_payer_through_as_of=args.late_payer_through_as_of,
    )
    if args.mode == "oracle":
        _print_outcomes(expected)
        return 0

    if args.from_warehouse:
        # a warehouse an earlier compare left behind: read its ledger, run nothing
        actual = [read_product_day(args.from_warehouse, day, True) for day in days]
    else:
        with tempfile.TemporaryDirectory(prefix="ibm-oracle-") as tmp:
            workdir = Path(args.workdir) if args.workdir else Path(tmp)
            actual = replay_product(
                days, workdir, threshold_days=args.threshold, window_days=args.window,
                log=lambda text: print(text, flush=True),
            )
    print(
        f"oracle: {sum(len(d.predue_invoices) for d in expected)} pre-due, "
        f"{sum(len(d.emailed_clients) for d in expected)} emails; product: "
        f"{sum(len(d.outcome.predue_invoices) for d in actual)} pre-due, "
        f"{sum(len(d.outcome.emailed_clients) for d in actual)} emails "
        f"({args.start}, {args.days} days, threshold {args.threshold}, window {args.window})"
    )
    diffs = differences(expected, actual)
    for line in diffs:
        print(line)
    print(f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
