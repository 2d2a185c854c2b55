"""Optional approval of the day's plan before anything is delivered.

With `require_approval: true` in the policy, the day's run stops at this gate
until someone approves exactly that plan: the approval records a digest of
every planned message (key, channel, recipients' count and amounts), so a plan
that changes after approval needs approving again. Approve from the UI by
launching the `approve_plan` job with the business date.
"""

import hashlib
from datetime import date

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetKey,
    Config,
    OpExecutionContext,
    asset_check,
    job,
    op,
)

from ar_assets.policy import load_policy
from ar_assets.resources import Warehouse

APPROVALS_DDL = """
create schema if not exists ops;
create table if not exists ops.approvals (
    as_of date not null,
    plan_digest varchar not null,
    approved_by varchar not null,
    approved_at timestamp not null default current_timestamp,
    primary key (as_of, plan_digest)
);
"""


def plan_digest(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[str, int]:
    """A digest of the day's planned messages and how many there are."""
    rows = con.execute(
        """
        select m.message_key, m.channel, m.kind, coalesce(l.amounts::varchar, '')
        from plan.messages m join ops.ledger l using (message_key)
        where m.as_of = ? and m.status = 'planned'
        order by m.message_key
        """,
        [as_of],
    ).fetchall()
    digest = hashlib.sha256("\n".join("|".join(r) for r in rows).encode()).hexdigest()
    return digest[:16], len(rows)


@asset_check(
    asset=AssetKey(["plan", "messages"]),
    blocking=True,
    description="When the policy requires it, the day's exact plan has been approved.",
)
def plan_is_approved(
    context: AssetCheckExecutionContext, warehouse: Warehouse
) -> AssetCheckResult:
    if not load_policy().require_approval:
        return AssetCheckResult(passed=True, description="approval not required by policy")
    as_of = date.fromisoformat(context.op_execution_context.partition_key)
    with warehouse.connect() as con:
        con.execute(APPROVALS_DDL)
        digest, count = plan_digest(con, as_of)
        approved = con.execute(
            "select approved_by from ops.approvals where as_of = ? and plan_digest = ?",
            [as_of, digest],
        ).fetchone()
    description = (
        f"plan {digest} ({count} messages) approved" if approved
        else f"plan {digest} for {as_of} ({count} messages) awaits approval: "
        f"launch approve_plan with as_of {as_of}"
    )
    return AssetCheckResult(
        passed=bool(approved),
        description=description,
        metadata={"plan_digest": digest, "planned_messages": count},
    )


class ApprovalConfig(Config):
    as_of: str
    approved_by: str


@op
def record_approval(
    context: OpExecutionContext, config: ApprovalConfig, warehouse: Warehouse
) -> None:
    """Approves the plan of `as_of` exactly as it stands now."""
    as_of = date.fromisoformat(config.as_of)
    with warehouse.connect() as con:
        con.execute(APPROVALS_DDL)
        digest, count = plan_digest(con, as_of)
        con.execute(
            "insert or ignore into ops.approvals (as_of, plan_digest, approved_by) "
            "values (?, ?, ?)",
            [as_of, digest, config.approved_by],
        )
    context.log.info(f"approved plan {digest} for {as_of}: {count} messages")


@job(description="Approves one business date's plan; then re-run the day's delivery.")
def approve_plan() -> None:
    record_approval()
