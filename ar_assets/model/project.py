"""The dbt project beside the package, and how its manifest is prepared."""

from __future__ import annotations

import json
from pathlib import Path

from dagster_dbt import DbtProject

from ar_assets.policy import PROJECT_ROOT, Policy, load_policy

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_vars(policy: Policy | None = None) -> str:
    """The --vars argument: every policy rule. The business date is not a var but a
    row in ops.run_context, so vars stay the same from day to day and dbt's partial
    parse survives a replay of many days."""
    policy = policy or load_policy()
    return json.dumps(policy.dbt_vars(), sort_keys=True)


def prepare_manifest() -> Path:
    """Parses the dbt project so that target/manifest.json exists; returns its path."""
    from dbt.cli.main import dbtRunner

    args = [
        "parse",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--vars", dbt_vars(),
        "--quiet",
    ]
    result = dbtRunner().invoke(args)
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return dbt_project.manifest_path


if __name__ == "__main__":
    print(f"dbt manifest ready: {prepare_manifest()}")
