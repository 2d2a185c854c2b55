"""Lands N open invoices from the sandbox NetSuite with a simulated per-request latency
and prints rows per second next to the ideal, 1,000 rows x concurrency / latency.

The sandbox runs in its own process (as NetSuite would), so its JSON encoding
does not compete with the client for the interpreter. Each invoice has no item
lines (the light ledger shape), so the rows counted are transaction rows.

    uv run python scripts/bench_land.py --rows 100000 --latency 0.3 --concurrency 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from datetime import date, timedelta
from decimal import Decimal

AS_OF = date(2026, 6, 16)


def light_ledger(rows: int):
    """Returns a ledger of `rows` open invoices over 1,000 clients, without item lines."""
    from ar_assets.sandbox.ledger import (
        Currency,
        Customer,
        Employee,
        Invoice,
        SourceLedger,
        paused_gc,
    )

    currencies = [Currency(1, "EUR", "Euro"), Currency(2, "USD", "US Dollar"),
                  Currency(3, "JPY", "Japanese Yen")]
    with paused_gc():
        customers = [Customer(10_000 + c, f"C{c}", f"Client {c}", None, 1 + c % 3, 7)
                     for c in range(1000)]
        invoices = []
        for i in range(rows):
            trandate = AS_OF - timedelta(days=1 + i % 300)
            amount = Decimal(i % 100_000) + Decimal("0.25") if i % 3 != 2 else Decimal(i % 9999)
            invoices.append(Invoice(1_000_000 + i, f"INV-{i:07d}", 10_000 + i % 1000, trandate,
                                    trandate + timedelta(days=30), 1 + (i % 1000) % 3, amount))
    return SourceLedger(currencies=currencies, customers=customers, invoices=invoices,
                        employees=[Employee(7, "Aiko", "Tanaka", "am@vendor.example")])


def serve(rows: int, latency: float, concurrency: int, conn) -> None:
    """Child process: builds the ledger, serves the sandbox, reports its URL, waits."""
    from ar_assets.sandbox.netsuite_server import Faults, NetSuiteSandbox
    from ar_assets.sandbox.serve import serve_app

    sandbox = NetSuiteSandbox(light_ledger(rows), AS_OF,
                              faults=Faults(delay_seconds=latency, concurrency_limit=concurrency))
    with serve_app(sandbox.app) as base_url:
        conn.send((base_url, sandbox.credentials))
        conn.recv()  # until the parent is done
        conn.send(sandbox.max_in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    import duckdb

    from ar_assets.land.landing import land_snapshot
    from ar_assets.land.suiteql import SuiteQLClient

    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=serve, args=(args.rows, args.latency, args.concurrency, child), daemon=True)
    started = time.perf_counter()
    process.start()
    base_url, creds = parent.recv()
    print(f"sandbox with {args.rows:,} open invoices ready in "
          f"{time.perf_counter() - started:.1f} s")

    client = SuiteQLClient.with_token_auth(
        creds.account_id, creds.consumer_key, creds.consumer_secret, creds.token_id,
        creds.token_secret, base_url=base_url, concurrency=args.concurrency)
    con = duckdb.connect()
    began = time.perf_counter()
    stats = land_snapshot(client, con, AS_OF)
    seconds = time.perf_counter() - began
    parent.send("done")
    peak = parent.recv()
    process.join(timeout=30)

    landed = con.execute("select count(*), count(distinct id) from raw.netsuite_transactions"
                         ).fetchone()
    assert landed == (args.rows, args.rows), f"landed {landed}, expected {args.rows}"
    rate = args.rows / seconds
    print(f"landed {args.rows:,} rows in {seconds:.1f} s with {stats.requests} requests "
          f"({stats.windows} windows), at most {peak} in flight")
    if args.latency > 0:
        ideal = 1000 * args.concurrency / args.latency
        print(f"{rate:,.0f} rows/s; ideal {ideal:,.0f} rows/s "
              f"(1000 x {args.concurrency} / {args.latency} s); ratio {rate / ideal:.2f}")
    else:
        print(f"{rate:,.0f} rows/s with no simulated latency (no ideal to compare with)")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"landing process peak memory {peak_mib:,.0f} MiB (the sandbox runs apart)")


if __name__ == "__main__":
    main()
