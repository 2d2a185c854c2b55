"""`make ui`: the Dagster UI over the bundled sandbox.

Serves the sandbox NetSuite (a synthetic ledger by default, or the public IBM
history) on loopback, points the environment at it, and starts `dagster dev`
on the project's workspace with a local instance under var/dagster.

    python -m ar_assets.sandbox.ui [--dataset synthetic|ibm] [--clients 300] [--port 3000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import date

from ar_assets.policy import PROJECT_ROOT
from ar_assets.sandbox.session import SandboxSession


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ar_assets.sandbox.ui")
    parser.add_argument("--dataset", choices=["synthetic", "ibm"], default="synthetic")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 16))
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)

    home = PROJECT_ROOT / "var" / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    workdir = PROJECT_ROOT / "var" / "ui" / args.dataset

    with SandboxSession.start(
        args.dataset, workdir, clients=args.clients, as_of=args.as_of
    ) as session:
        print(f"sandbox NetSuite ({args.dataset}) at {session.base_url}")
        print(f"warehouse {session.duckdb_path}, outbox {session.outbox_dir}")
        env = {**os.environ, "DAGSTER_HOME": str(home)}
        command = [
            sys.executable, "-m", "dagster", "dev",
            "-w", str(PROJECT_ROOT / "workspace.yaml"),
            "-h", "127.0.0.1", "-p", str(args.port),
        ]
        try:
            return subprocess.call(command, env=env, cwd=PROJECT_ROOT)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
