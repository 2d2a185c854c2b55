"""The SuiteQL texts landed each run.

Every query orders by a unique key (paging without one can skip or repeat
rows), requests dates as ISO text through TO_CHAR (raw dates follow the token
user's format preference), and opens with a `/* q:<name> */` comment so logs
and the sandbox can tell queries apart. Keyed queries carry `{after}` so the
client can narrow past SuiteQL's 100,000-row ceiling.

Transactions and their lines come in two forms: the landed set as of a date
(a full snapshot), and every posting document modified since a time (an
incremental pull, whatever its status, so payments, voids and closures are
seen).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ar_assets.land.suiteql import SuiteQLQuery

# Paid invoices this far back feed late-payer and offence history (365-day
# lookbacks plus the 31-day threshold and slack).
PAID_HISTORY_DAYS = 400


def _iso(column: str) -> str:
    return f"TO_CHAR({column}, 'YYYY-MM-DD')"


def _modified_since_filter(since: datetime) -> str:
    """Returns the predicate on `t` for posting AR documents modified at or after `since`."""
    stamp = since.strftime("%Y-%m-%d %H:%M:%S")
    return f"""t.posting = 'T'
  AND t.type IN ('CustInvc', 'CustCred', 'CustPymt')
  AND t.lastmodifieddate >= TO_TIMESTAMP('{stamp}', 'YYYY-MM-DD HH24:MI:SS')"""


def _landed_transaction_filter(as_of: date) -> str:
    """Returns the predicate on `t` for open documents and recently paid invoices."""
    paid_since = (as_of - timedelta(days=PAID_HISTORY_DAYS)).isoformat()
    return f"""t.posting = 'T'
  AND t.voided = 'F'
  AND (
    (t.type = 'CustInvc' AND BUILTIN.CF(t.status) = 'CustInvc:A')
    OR (t.type = 'CustInvc' AND BUILTIN.CF(t.status) = 'CustInvc:B'
        AND t.closedate >= TO_DATE('{paid_since}', 'YYYY-MM-DD'))
    OR (t.type IN ('CustCred', 'CustPymt') AND t.foreignpaymentamountunused > 0)
  )"""


def transactions_query(as_of: date, since: datetime | None = None) -> SuiteQLQuery:
    """Returns the query for open invoices, credits, payments and recently paid invoices,
    or, with `since`, for every AR document modified since then.

    Currency is a left join: a document whose currency record is missing still
    lands (currency_code empty) for the model to quarantine and report.
    """
    where = _landed_transaction_filter(as_of) if since is None else _modified_since_filter(since)
    sql = f"""/* q:transactions */
SELECT
  t.id,
  t.tranid,
  t.type,
  t.entity,
  BUILTIN.CF(t.status) AS status_code,
  {_iso("t.trandate")} AS trandate,
  {_iso("t.duedate")} AS duedate,
  {_iso("t.closedate")} AS closedate,
  cur.symbol AS currency_code,
  t.exchangerate,
  t.foreigntotal,
  t.foreignamountpaid,
  t.foreignamountunpaid,
  t.foreignpaymentamountunused,
  t.custbody_ar_disputed AS is_disputed,
  t.voided AS is_voided,
  TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodifieddate
FROM transaction t
LEFT JOIN currency cur ON cur.id = t.currency
WHERE {where}
  AND t.id > {{after}}
ORDER BY t.id"""
    return SuiteQLQuery("transactions", sql, order=("id",), key="id")


def transaction_lines_query(as_of: date, since: datetime | None = None) -> SuiteQLQuery:
    """Returns the query for the item lines (non-main lines) of landed invoices, or,
    with `since`, of every invoice modified since then."""
    where = _landed_transaction_filter(as_of) if since is None else _modified_since_filter(since)
    sql = f"""/* q:transaction_lines */
SELECT
  tl.transaction,
  tl.linesequencenumber,
  BUILTIN.DF(tl.item) AS item,
  tl.memo,
  tl.quantity,
  tl.rate,
  tl.foreignamount
FROM transactionline tl
JOIN transaction t ON t.id = tl.transaction
WHERE tl.mainline = 'F'
  AND t.type = 'CustInvc'
  AND {where}
  AND tl.transaction > {{after}}
ORDER BY tl.transaction, tl.linesequencenumber"""
    return SuiteQLQuery("transaction_lines", sql, order=("transaction", "linesequencenumber"),
                        key="transaction")


def customers_query() -> SuiteQLQuery:
    sql = f"""/* q:customers */
SELECT
  c.id,
  c.entityid,
  c.companyname,
  c.email,
  c.language,
  cur.symbol AS currency_code,
  c.subsidiary,
  c.salesrep,
  c.isinactive,
  c.custentity_ar_high_value AS is_high_value,
  c.custentity_ar_manual_hold AS is_manual_hold,
  {_iso("c.custentity_ar_hold_until")} AS hold_until
FROM customer c
LEFT JOIN currency cur ON cur.id = c.currency
WHERE c.id > {{after}}
ORDER BY c.id"""
    return SuiteQLQuery("customers", sql, order=("id",), key="id")


def contacts_query() -> SuiteQLQuery:
    sql = """/* q:contacts */
SELECT
  ct.id,
  ct.company,
  ct.firstname,
  ct.lastname,
  ct.email,
  BUILTIN.DF(ct.contactrole) AS contactrole,
  ct.isinactive
FROM contact ct
WHERE ct.id > {after}
ORDER BY ct.id"""
    return SuiteQLQuery("contacts", sql, order=("id",), key="id")


def employees_query() -> SuiteQLQuery:
    sql = """/* q:employees */
SELECT
  e.id,
  e.firstname,
  e.lastname,
  e.email,
  e.custentity_gchat_space AS gchat_space
FROM employee e
WHERE e.id > {after}
ORDER BY e.id"""
    return SuiteQLQuery("employees", sql, order=("id",), key="id")


def currencies_query() -> SuiteQLQuery:
    sql = """/* q:currencies */
SELECT cur.id, cur.symbol, cur.name
FROM currency cur
ORDER BY cur.id"""
    return SuiteQLQuery("currencies", sql, order=("id",))


def control_totals_query(as_of: date) -> SuiteQLQuery:
    """Returns the source's totals per currency, for reconciliation: the amount unpaid
    of open invoices, the unapplied amount of credit memos and payments, and the
    number of invoices paid within the history window (documents whose currency
    record is missing sum under an empty currency_code).

    It is a separate read from the transaction pages (SuiteQL has no read
    snapshot), so landing reads everything again once when the two disagree.
    """
    sql = f"""/* q:control_totals */
SELECT
  cur.symbol AS currency_code,
  SUM(CASE WHEN BUILTIN.CF(t.status) = 'CustInvc:A' THEN t.foreignamountunpaid ELSE 0 END)
    AS open_amount,
  SUM(CASE WHEN t.type IN ('CustCred', 'CustPymt') THEN t.foreignpaymentamountunused
      ELSE 0 END) AS unapplied_amount,
  SUM(CASE WHEN BUILTIN.CF(t.status) = 'CustInvc:B' THEN 1 ELSE 0 END) AS paid_count
FROM transaction t
LEFT JOIN currency cur ON cur.id = t.currency
WHERE {_landed_transaction_filter(as_of)}
GROUP BY cur.symbol
ORDER BY cur.symbol"""
    return SuiteQLQuery("control_totals", sql, order=("currency_code",))
