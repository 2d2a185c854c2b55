"""The warehouse resource shared by every stage."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from ar_assets.policy import PROJECT_ROOT

DEFAULT_DUCKDB_PATH = PROJECT_ROOT / "var" / "ar.duckdb"


def default_duckdb_path() -> str:
    return os.environ.get("AR_DUCKDB_PATH") or str(DEFAULT_DUCKDB_PATH)


class Warehouse(ConfigurableResource):
    """The DuckDB file holding raw, marts, plan and ops schemas.

    DuckDB lets one process write a file, and an open connection blocks dbt,
    so every connection is opened for one step and closed at its end.
    """

    path: str = ""

    def resolved_path(self) -> str:
        return self.path or default_duckdb_path()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        path = self.resolved_path()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(path)
        try:
            yield con
        finally:
            con.close()
