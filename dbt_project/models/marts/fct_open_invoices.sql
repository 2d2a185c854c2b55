-- one row per invoice with an amount remaining after credit allocation
with

allocated as (

    select * from {{ ref('int_invoices_credits_allocated') }}

),

open_invoices as (

    select * from allocated

    where is_open_after_credits

),

final as (

    select
        invoice_id,
        tranid,
        client_id,
        currency_code,
        transaction_date as trandate,
        due_date,
        dpd,
        total_amount,
        amount_paid,
        credits_applied,
        remaining_amount,
        case
            when dpd <= 0 then 'current'
            when dpd <= 30 then '1-30'
            when dpd <= 60 then '31-60'
            when dpd <= 90 then '61-90'
            else '90+'
        end as aging_bucket,
        is_disputed,
        is_overdue

    from open_invoices

)

select * from final
