-- one row per client and currency with open invoices or unapplied credits
with

allocated as (

    select * from {{ ref('int_invoices_credits_allocated') }}

),

credits as (

    select * from {{ ref('stg_netsuite__credits') }}

),

invoice_totals as (

    select
        client_id,
        currency_code,
        sum(remaining_amount) filter (where is_overdue) as overdue_amount,
        count(*) filter (where is_overdue) as overdue_count,
        sum(credits_applied) as credits_applied,
        sum(remaining_amount) filter (where not is_disputed) as open_balance,
        max(dpd) filter (
            where is_open_after_credits and not is_disputed
        ) as oldest_dpd,
        sum(remaining_amount) filter (where is_disputed) as disputed_amount,
        count(*) filter (where is_disputed) as disputed_count

    from allocated

    group by 1, 2

),

credit_totals as (

    select
        client_id,
        currency_code,
        sum(unapplied_amount) as credit_amount

    from credits

    group by 1, 2

),

joined as (

    select
        coalesce(invoice_totals.client_id, credit_totals.client_id)
            as client_id,
        coalesce(invoice_totals.currency_code, credit_totals.currency_code)
            as currency_code,
        coalesce(invoice_totals.overdue_amount, 0) as overdue_amount,
        coalesce(invoice_totals.overdue_count, 0) as overdue_count,
        coalesce(invoice_totals.credits_applied, 0) as credits_applied,
        coalesce(invoice_totals.open_balance, 0) as open_balance,
        coalesce(credit_totals.credit_amount, 0)
        - coalesce(invoice_totals.credits_applied, 0)
            as unapplied_credit_amount,
        invoice_totals.oldest_dpd,
        coalesce(invoice_totals.disputed_amount, 0) as disputed_amount,
        coalesce(invoice_totals.disputed_count, 0) as disputed_count

    from invoice_totals

    full outer join credit_totals
        on
            invoice_totals.client_id = credit_totals.client_id
            and invoice_totals.currency_code = credit_totals.currency_code

),

final as (

    select
        client_id,
        currency_code,
        cast(overdue_amount as decimal(38, 6)) as overdue_amount,
        overdue_count,
        cast(credits_applied as decimal(38, 6)) as credits_applied,
        cast(open_balance as decimal(38, 6)) as open_balance,
        cast(unapplied_credit_amount as decimal(38, 6))
            as unapplied_credit_amount,
        cast(open_balance - unapplied_credit_amount as decimal(38, 6))
            as net_balance,
        oldest_dpd,
        cast(disputed_amount as decimal(38, 6)) as disputed_amount,
        disputed_count,
        overdue_amount > 0 as has_overdue,
        open_balance - unapplied_credit_amount > 0 as is_net_balance_positive

    from joined

)

select * from final
