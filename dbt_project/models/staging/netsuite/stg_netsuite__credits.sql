-- one row per credit memo or payment with an unapplied amount above zero
with

transactions as (

    select * from {{ ref('base_netsuite__transactions') }}

),

credits as (

    select
        transaction_id as credit_id,
        tranid,
        transaction_type as credit_type,
        client_id,
        transaction_date,
        currency_code,
        abs(total_amount) as total_amount,
        -- NetSuite keeps a credit memo's unapplied amount as amount unpaid
        -- and a payment's as payment amount unused; signs vary by type
        abs(
            case transaction_type
                when 'credit_memo'
                    then coalesce(amount_unpaid, payment_amount_unused)
                else coalesce(payment_amount_unused, amount_unpaid)
            end
        ) as unapplied_amount

    from transactions

    where transaction_type in ('credit_memo', 'payment')

),

open_credits as (

    select * from credits

    where unapplied_amount > 0

)

select * from open_credits
