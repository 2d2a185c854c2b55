"""Daily business-date partitions in the company time zone."""

from __future__ import annotations

import warnings
from datetime import date

from dagster import BackfillPolicy, BetaWarning, DailyPartitionsDefinition

from ar_assets.policy import load_policy

# The bundled public history starts in January 2012; live accounts backfill
# from whatever date they choose inside this range.
FIRST_BUSINESS_DATE = "2012-01-01"

daily_partitions = DailyPartitionsDefinition(
    start_date=FIRST_BUSINESS_DATE,
    timezone=load_policy().company_timezone,
    end_offset=1,
)

# Every daily asset runs one business date per run: a backfill is a run per day, in
# order, each seeing the ledger the earlier days left. (Dagster marks the parameter
# beta; the note would print once per asset at every start.)
one_day_per_run = BackfillPolicy.multi_run(1)
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)


def partition_date(partition_key: str) -> date:
    return date.fromisoformat(partition_key)
