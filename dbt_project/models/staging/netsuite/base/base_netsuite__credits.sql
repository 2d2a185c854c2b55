-- one row per landed credit memo or payment, with its unapplied amount and
-- why it is held back from allocation (quarantine_reason, null when fine)
with

transactions as (

    select * from {{ ref('base_netsuite__transactions') }}

),

customers as (

    select distinct id as client_id

    from {{ source('netsuite', 'customers') }}

),

currencies as (

    select * from {{ ref('iso_currencies') }}

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
        ) as unapplied_amount,
        count(*) over (partition by transaction_id) > 1 as is_repeated_id

    from transactions

    where transaction_type in ('credit_memo', 'payment')

),

joined as (

    select
        credits.*,
        currencies.currency_code is not null as is_known_currency,
        currencies.minor_units,
        customers.client_id is not null as is_known_client

    from credits

    left join currencies
        on credits.currency_code = currencies.currency_code

    left join customers
        on credits.client_id = customers.client_id

),

checked as (

    select
        *,
        nullif(concat_ws(
            '; ',
            case when currency_code is null then 'missing currency' end,
            case
                when currency_code is not null and not is_known_currency
                    then 'unknown currency ' || currency_code
            end,
            case
                when not is_known_client
                    then 'client ' || client_id || ' is not a landed customer'
            end,
            case
                when
                    {{ has_excess_decimals('unapplied_amount', 'minor_units') }}
                    then currency_code || ' amount with more than '
                    || minor_units || ' decimal places'
            end
        ), '') as check_failures

    from joined

),

final as (

    select
        * exclude (check_failures),
        case when not is_repeated_id then check_failures end
            as quarantine_reason

    from checked

)

select * from final
