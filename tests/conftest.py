"""Shared fixtures: a sandbox NetSuite on loopback and the real daily run over it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import duckdb
import pytest

from ar_assets.policy import PROJECT_ROOT
from ar_assets.sandbox.ledger import SourceLedger
from ar_assets.sandbox.session import SandboxSession

# Parallel workers (pytest -n) each keep dbt's target and logs apart, so one
# worker's partial parse never reads another's half-written files.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ["DBT_TARGET_PATH"] = str(PROJECT_ROOT / "var" / "dbt" / _WORKER / "target")
    os.environ["DBT_LOG_PATH"] = str(PROJECT_ROOT / "var" / "dbt" / _WORKER / "logs")


class CaseRun:
    """One sandbox session plus readers for what it produced."""

    def __init__(self, session: SandboxSession) -> None:
        self.session = session

    def run(self, as_of: date, *, expect_success: bool = True):
        result = self.session.run_day(as_of)
        if expect_success:
            assert result.success, f"daily run failed for {as_of}"
        return result

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(self.session.duckdb_path, read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def ledger(self, **where: object) -> list[dict]:
        clauses = " and ".join(f"{k} = ?" for k in where) or "true"
        with duckdb.connect(self.session.duckdb_path, read_only=True) as con:
            cur = con.execute(
                f"select * from ops.ledger where {clauses} order by as_of, message_key",
                list(where.values()),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def emails(self) -> list[EmailMessage]:
        root = Path(self.session.outbox_dir) / "email"
        return [
            message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(root.rglob("*.eml"))
        ]

    def jsonl(self, channel: str) -> list[dict]:
        path = Path(self.session.outbox_dir) / f"{channel}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def record_prior_email(self, client_id: int, as_of: date, tier: int = 1) -> None:
        """Records a client email delivered on an earlier date, as a past run would have."""
        self.session.record_delivered(client_id, as_of, kind="client_overdue", tier=tier)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator:
    """Starts a sandbox for a given SourceLedger; yields a CaseRun factory."""
    sessions = []

    def start(ledger: SourceLedger) -> CaseRun:
        context = SandboxSession.start(ledger, tmp_path / f"s{len(sessions)}")
        session = context.__enter__()
        sessions.append(context)
        return CaseRun(session)

    yield start
    for context in reversed(sessions):
        context.__exit__(None, None, None)
