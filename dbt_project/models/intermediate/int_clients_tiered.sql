-- one row per client: late-payer flag, offence count and escalation tier
{%- set as_of = as_of_date() %}
{%- set threshold = policy_int('overdue_threshold_days') %}
with

customers as (

    select * from {{ ref('stg_netsuite__customers') }}

),

invoices as (

    select * from {{ ref('stg_netsuite__invoices') }}

),

allocated as (

    select * from {{ ref('int_invoices_credits_allocated') }}

),

late_payments as (

    select
        client_id,
        count(*) as late_payment_count,
        max(close_date) as last_late_payment_date

    from invoices

    where
        is_paid_in_full
        and close_date > due_date
        -- "within the N days before as_of": a settlement dated as_of itself
        -- counts from the next run
        and close_date >= {{ as_of }}
        - {{ policy_int('late_payer_lookback_days') }}
        and close_date < {{ as_of }}

    group by 1

),

-- an invoice stood open at dpd >= threshold if it is still open there
-- now, or was settled after due_date + threshold (on its settled date it
-- is already paid)
paid_offences as (

    select
        invoice_id,
        client_id,
        due_date

    from invoices

    where
        is_paid_in_full
        and not is_disputed
        and close_date > due_date + {{ threshold }}

),

open_offences as (

    select
        invoice_id,
        client_id,
        due_date

    from allocated

    where is_overdue

),

offences as (

    select * from paid_offences

    union all

    select * from open_offences

),

offence_counts as (

    select
        client_id,
        count(*) as offence_count

    from offences

    where
        due_date + {{ threshold }} between
        {{ as_of }} - {{ policy_int('offence_lookback_days') }}
        and {{ as_of }}

    group by 1

),

final as (

    select
        customers.client_id,
        coalesce(late_payments.late_payment_count, 0) > 0 as is_late_payer,
        coalesce(late_payments.late_payment_count, 0) as late_payment_count,
        late_payments.last_late_payment_date,
        coalesce(offence_counts.offence_count, 0) as offence_count,
        least(
            coalesce(offence_counts.offence_count, 0),
            {{ policy_int('max_tier') }}
        ) as tier

    from customers

    left join late_payments
        on customers.client_id = late_payments.client_id

    left join offence_counts
        on customers.client_id = offence_counts.client_id

)

select * from final
