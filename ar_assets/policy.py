"""The finance policy: every number and switch of SPEC section 3, from one file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_PATH = PROJECT_ROOT / "policy.yaml"


@dataclass(frozen=True)
class Policy:
    company_timezone: str = "Europe/Berlin"
    schedule_time: str = "06:00"
    overdue_threshold_days: int = 31
    cadence_days: int = 14
    predue_window_days: int = 10
    late_payer_lookback_days: int = 365
    offence_lookback_days: int = 365
    max_tier: int = 3
    collections_after_days: int = 14
    hold_weekend_client_emails: bool = False
    require_approval: bool = False
    max_invoices_per_email: int = 100
    high_value_billed_threshold: dict[str, Decimal] = field(default_factory=dict)

    def dbt_vars(self) -> dict[str, object]:
        """The policy as dbt vars (money as strings, never floats)."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                value = {k: str(v) for k, v in value.items()}
            out[f.name] = value
        return out


def load_policy(path: str | Path | None = None) -> Policy:
    """Reads the policy file named by AR_POLICY_PATH, else policy.yaml."""
    path = Path(path or os.environ.get("AR_POLICY_PATH") or DEFAULT_POLICY_PATH)
    raw = yaml.safe_load(path.read_text()) or {}
    known = {f.name for f in fields(Policy)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path}: unknown policy keys {unknown}")
    thresholds = raw.get("high_value_billed_threshold") or {}
    raw["high_value_billed_threshold"] = {k: Decimal(str(v)) for k, v in thresholds.items()}
    return Policy(**raw)
