"""The dbt project beside the package, and how its manifest is prepared."""

from __future__ import annotations

import json
from pathlib import Path

from dagster_dbt import DbtProject

from ar_assets.policy import PROJECT_ROOT, Policy, load_policy

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_vars(as_of: str, policy: Policy | None = None) -> str:
    """The --vars argument: the business date plus every policy rule."""
    policy = policy or load_policy()
    return json.dumps({"as_of": as_of, **policy.dbt_vars()})


def prepare_manifest() -> Path:
    """Parses the dbt project so that target/manifest.json exists; returns its path."""
    from dbt.cli.main import dbtRunner

    args = [
        "parse",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--vars", dbt_vars("2000-01-01"),
        "--quiet",
    ]
    result = dbtRunner().invoke(args)
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return dbt_project.manifest_path


if __name__ == "__main__":
    print(f"dbt manifest ready: {prepare_manifest()}")
