{{ config(meta={'dagster': {'ref': {'name': 'int_invoices_credits_allocated'}}}) }}
-- fails for every client and currency given more credit than it has unapplied
with

allocated as (

    select * from {{ ref('int_invoices_credits_allocated') }}

),

credits as (

    select * from {{ ref('stg_netsuite__credits') }}

),

applied as (

    select
        client_id,
        currency_code,
        sum(credits_applied) as credits_applied

    from allocated

    group by 1, 2

),

available as (

    select
        client_id,
        currency_code,
        sum(unapplied_amount) as unapplied_amount

    from credits

    group by 1, 2

),

over_allocated as (

    select
        applied.client_id,
        applied.currency_code,
        applied.credits_applied,
        coalesce(available.unapplied_amount, 0) as unapplied_amount

    from applied

    left join available
        on
            applied.client_id = available.client_id
            and applied.currency_code = available.currency_code

    where applied.credits_applied > coalesce(available.unapplied_amount, 0)

)

select * from over_allocated
