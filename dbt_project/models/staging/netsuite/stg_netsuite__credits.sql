-- one row per credit memo or payment with an unapplied amount above zero
-- that passed the checks of base_netsuite__credits
with

checked_credits as (

    select * from {{ ref('base_netsuite__credits') }}

),

open_credits as (

    select
        credit_id,
        tranid,
        credit_type,
        client_id,
        transaction_date,
        currency_code,
        total_amount,
        unapplied_amount

    from checked_credits

    where
        unapplied_amount > 0
        -- the rest is quarantined and reported in int_quarantined_rows
        and quarantine_reason is null

)

select * from open_credits
