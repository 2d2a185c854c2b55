-- one row per landed transaction: invoice, credit memo or payment
with

source as (

    select * from {{ source('netsuite', 'transactions') }}

),

renamed as (

    select
        id as transaction_id,
        tranid,
        case type
            when 'CustInvc' then 'invoice'
            when 'CustCred' then 'credit_memo'
            when 'CustPymt' then 'payment'
        end as transaction_type,
        entity as client_id,
        status_code,
        cast(trandate as date) as transaction_date,
        cast(duedate as date) as due_date,
        cast(closedate as date) as close_date,
        upper(nullif(trim(currency_code), '')) as currency_code,
        cast(exchangerate as decimal(38, 10)) as exchange_rate,
        cast(foreigntotal as decimal(38, 6)) as total_amount,
        cast(foreignamountpaid as decimal(38, 6)) as amount_paid,
        cast(foreignamountunpaid as decimal(38, 6)) as amount_unpaid,
        cast(foreignpaymentamountunused as decimal(38, 6))
            as payment_amount_unused,
        coalesce(is_disputed, false) as is_disputed,
        lastmodifieddate as last_modified_at,
        landed_at

    from source

)

select * from renamed
