"""Daily business-date partitions in the company time zone."""

from __future__ import annotations

from datetime import date

from dagster import DailyPartitionsDefinition

from ar_assets.policy import load_policy

# The bundled public history starts in January 2012; live accounts backfill
# from whatever date they choose inside this range.
FIRST_BUSINESS_DATE = "2012-01-01"

daily_partitions = DailyPartitionsDefinition(
    start_date=FIRST_BUSINESS_DATE,
    timezone=load_policy().company_timezone,
    end_offset=1,
)


def partition_date(partition_key: str) -> date:
    return date.fromisoformat(partition_key)
