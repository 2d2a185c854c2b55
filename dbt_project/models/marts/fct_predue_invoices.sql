-- one row per open invoice of a late payer that falls due within the window
{%- set as_of = as_of_date() %}
with

allocated as (

    select * from {{ ref('int_invoices_credits_allocated') }}

),

tiered as (

    select * from {{ ref('int_clients_tiered') }}

),

customers as (

    select * from {{ ref('stg_netsuite__customers') }}

),

ledger as (

    select * from {{ ref('stg_ops__ledger') }}

),

-- document numbers (or ids) named by pre-due alerts delivered on earlier
-- runs
alerted_refs as (

    select distinct unnest(invoice_ids) as invoice_ref

    from ledger

    where
        kind = 'am_predue'
        and is_delivered
        and as_of_date < {{ as_of }}

),

in_window as (

    select
        *,
        datediff('day', {{ as_of }}, due_date) as days_until_due

    from allocated

    where
        is_open_after_credits
        and datediff('day', {{ as_of }}, due_date)
        between 0 and {{ policy_int('predue_window_days') }}

),

alerted_invoices as (

    select distinct in_window.invoice_id

    from in_window

    inner join alerted_refs
        on alerted_refs.invoice_ref in (
            in_window.tranid,
            cast(in_window.invoice_id as varchar)
        )

),

final as (

    select
        in_window.invoice_id,
        in_window.tranid,
        in_window.client_id,
        customers.client_name,
        customers.am_id,
        tiered.tier,
        in_window.currency_code,
        in_window.transaction_date as trandate,
        in_window.due_date,
        in_window.days_until_due,
        in_window.dpd,
        in_window.total_amount,
        in_window.amount_paid,
        in_window.credits_applied,
        in_window.remaining_amount,
        in_window.is_disputed,
        alerted_invoices.invoice_id is not null as has_delivered_predue_alert

    from in_window

    inner join tiered
        on in_window.client_id = tiered.client_id

    left join customers
        on in_window.client_id = customers.client_id

    left join alerted_invoices
        on in_window.invoice_id = alerted_invoices.invoice_id

    where tiered.is_late_payer

)

select * from final
