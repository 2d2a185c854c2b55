"""A sandbox session: the loopback NetSuite server plus the paths and environment of
one warehouse, outbox and render folder, and the daily run executed in this process.

Used by the demo, `make ui` and the tests, so all three run the same definitions
against the same kind of server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

from ar_assets.ledger import (
    LedgerEntry,
    claim_for_sending,
    ensure_ledger,
    mark_delivered,
    record_plan,
)
from ar_assets.plan.messages import message_key
from ar_assets.sandbox.ledger import SourceLedger
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox
from ar_assets.sandbox.serve import serve_app


def build_dataset(dataset: str | SourceLedger, clients: int, as_of: date) -> SourceLedger:
    """The named dataset ('ibm' or 'synthetic'), or the given ledger as it is."""
    if isinstance(dataset, SourceLedger):
        return dataset
    if dataset == "ibm":
        from ar_assets.sandbox.ibm import load_ibm_ledger

        return load_ibm_ledger()
    if dataset == "synthetic":
        from ar_assets.sandbox.synthetic import generate_ledger

        return generate_ledger(clients, as_of)
    raise ValueError(f"unknown dataset {dataset!r}: use 'ibm' or 'synthetic'")


class SandboxSession:
    def __init__(self, workdir: Path, server: NetSuiteSandbox, base_url: str) -> None:
        self.workdir = workdir
        self.server = server
        self.base_url = base_url
        self.duckdb_path = str(workdir / "ar.duckdb")
        self.outbox_dir = str(workdir / "outbox")
        self.render_dir = str(workdir / "rendered")
        self._instance = None
        self.log_level = os.environ.get("AR_LOG_LEVEL", "WARNING")

    def environment(self) -> dict[str, str]:
        creds = self.server.credentials
        return {
            "AR_MODE": "sandbox",
            "AR_DUCKDB_PATH": self.duckdb_path,
            "AR_OUTBOX_DIR": self.outbox_dir,
            "AR_RENDER_DIR": self.render_dir,
            "NETSUITE_BASE_URL": self.base_url,
            "NETSUITE_ACCOUNT_ID": creds.account_id,
            "NETSUITE_CONSUMER_KEY": creds.consumer_key,
            "NETSUITE_CONSUMER_SECRET": creds.consumer_secret,
            "NETSUITE_TOKEN_ID": creds.token_id,
            "NETSUITE_TOKEN_SECRET": creds.token_secret,
        }

    @classmethod
    @contextmanager
    def start(
        cls,
        dataset: str | SourceLedger,
        workdir: str | Path,
        *,
        clients: int = 300,
        as_of: date = date(2026, 6, 16),
        delivery_servers: bool = False,
    ) -> Iterator[SandboxSession]:
        """Serves the dataset on loopback and points this process's environment at it."""
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        ledger = build_dataset(dataset, clients, as_of)
        server = NetSuiteSandbox(ledger, as_of)
        with ExitStack() as stack:
            base_url = stack.enter_context(serve_app(server.app))
            if delivery_servers:
                # Loopback HubSpot and Chat, reached through the real clients.
                from ar_assets.sandbox.chat_server import serve_delivery_sandboxes

                stack.enter_context(serve_delivery_sandboxes(ledger))
            session = cls(workdir, server, base_url)
            saved = {k: os.environ.get(k) for k in session.environment()}
            os.environ.update(session.environment())
            try:
                yield session
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def run_day(self, as_of: date):
        """Executes the daily job for `as_of` in this process; returns Dagster's result."""
        from dagster import DagsterInstance

        from ar_assets.definitions import defs

        if self._instance is None:
            self._instance = DagsterInstance.ephemeral()
        job = defs.resolve_job_def("daily_ar_run")
        return job.execute_in_process(
            partition_key=as_of.isoformat(),
            instance=self._instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": self.log_level}}}},
        )

    def step_seconds(self, run_id: str) -> dict[str, float]:
        """Wall seconds per step of a finished run, from its event log."""
        started: dict[str, float] = {}
        spent: dict[str, float] = {}
        for entry in self._instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type_value == "STEP_START":
                started[event.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                begin = started.get(event.step_key, entry.timestamp)
                spent[event.step_key] = entry.timestamp - begin
        return spent

    def record_delivered(self, client_id: int, as_of: date, kind: str, tier: int = 1) -> str:
        """Records a message delivered on an earlier date, as a past run would have."""
        import duckdb

        key = message_key(as_of, kind, client_id)
        channel = "email" if kind == "client_overdue" else "chat"
        with duckdb.connect(self.duckdb_path) as con:
            ensure_ledger(con)
            record_plan(con, [LedgerEntry(key, as_of, channel, kind, client_id, "planned",
                                          tier=tier)])
            claim_for_sending(con, key)
            mark_delivered(con, key)
        return key
