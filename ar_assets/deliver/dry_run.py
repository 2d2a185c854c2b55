"""Dry run: everything is planned and rendered, nothing leaves, every row stays planned."""

from __future__ import annotations

import os

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

_TRUE = {"1", "true", "yes", "on"}


def dry_run_requested(flag: bool = False) -> bool:
    """True when a resource flag or AR_DRY_RUN (read at run time) asks for a dry run."""
    return flag or os.environ.get("AR_DRY_RUN", "").strip().lower() in _TRUE


def report_dry_run(context: AssetExecutionContext, what: str, not_sent: int) -> MaterializeResult:
    """The step's outcome in a dry run: how many messages would have gone out."""
    context.log.info(f"{what}: dry run: {not_sent} not sent")
    return MaterializeResult(
        metadata={
            "dry_run": True,
            "not_sent": not_sent,
            "outcome": MetadataValue.text(f"dry run: {not_sent} not sent"),
        }
    )
