-- one row per landed invoice that passed every check of
-- base_netsuite__invoices (the others are in int_quarantined_invoices)
with

checked_invoices as (

    select * from {{ ref('base_netsuite__invoices') }}

),

invoices as (

    select
        transaction_id as invoice_id,
        tranid,
        -- trailing digits of the document number; on equal due dates the
        -- lowest number takes credit first (SPEC 3, credits and money)
        try_cast(regexp_extract(tranid, '([0-9]+)$', 1) as hugeint)
            as document_number,
        client_id,
        status_code,
        transaction_date,
        due_date,
        close_date,
        currency_code,
        exchange_rate,
        total_amount,
        coalesce(
            amount_unpaid,
            total_amount - coalesce(amount_paid, 0)
        ) as amount_unpaid,
        coalesce(
            amount_paid,
            total_amount - coalesce(amount_unpaid, 0)
        ) as amount_paid,
        is_disputed,
        last_modified_at

    from checked_invoices

    -- the rest is quarantined in int_quarantined_invoices, never reminded
    where quarantine_reason is null

),

flagged as (

    select
        *,
        amount_unpaid > 0 as is_open,
        amount_unpaid = 0 and close_date is not null as is_paid_in_full

    from invoices

)

select * from flagged
