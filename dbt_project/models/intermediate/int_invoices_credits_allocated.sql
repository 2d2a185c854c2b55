-- one row per open invoice (unpaid at the source), with the client's
-- unapplied credits of its currency allocated to it
with

invoices as (

    select * from {{ ref('stg_netsuite__invoices') }}

),

credits as (

    select * from {{ ref('stg_netsuite__credits') }}

),

open_invoices as (

    select * from invoices

    where is_open

),

client_credits as (

    select
        client_id,
        currency_code,
        sum(unapplied_amount) as credit_amount

    from credits

    group by 1, 2

),

-- disputed invoices take no credit while disputed: they are out of client
-- emails and totals (SPEC 3), so credit goes to what the client is asked
-- to pay
allocation_targets as (

    select
        invoice_id,
        client_id,
        currency_code,
        amount_unpaid,
        coalesce(
            sum(amount_unpaid) over (
                partition by client_id, currency_code
                order by
                    due_date,
                    document_number nulls last,
                    tranid,
                    invoice_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as unpaid_before_amount

    from open_invoices

    where not is_disputed

),

allocated as (

    select
        allocation_targets.invoice_id,
        greatest(
            least(
                allocation_targets.amount_unpaid,
                coalesce(client_credits.credit_amount, 0)
                - allocation_targets.unpaid_before_amount
            ),
            0
        ) as credits_applied

    from allocation_targets

    left join client_credits
        on
            allocation_targets.client_id = client_credits.client_id
            and allocation_targets.currency_code = client_credits.currency_code

),

joined as (

    select
        open_invoices.invoice_id,
        open_invoices.tranid,
        open_invoices.client_id,
        open_invoices.currency_code,
        open_invoices.transaction_date,
        open_invoices.due_date,
        datediff('day', open_invoices.due_date, {{ as_of_date() }}) as dpd,
        open_invoices.total_amount,
        open_invoices.amount_paid,
        open_invoices.amount_unpaid,
        cast(
            coalesce(allocated.credits_applied, 0) as decimal(38, 6)
        ) as credits_applied,
        open_invoices.is_disputed

    from open_invoices

    left join allocated
        on open_invoices.invoice_id = allocated.invoice_id

),

final as (

    select
        *,
        amount_unpaid - credits_applied as remaining_amount,
        amount_unpaid - credits_applied > 0 as is_open_after_credits,
        amount_unpaid - credits_applied > 0
        and dpd >= {{ policy_int('overdue_threshold_days') }}
        and not is_disputed as is_overdue

    from joined

)

select * from final
