-- one row per landed invoice held back from alerting, with the reason
with

transactions as (

    select * from {{ ref('base_netsuite__transactions') }}

),

invoices as (

    select * from transactions

    where transaction_type = 'invoice'

),

quarantined as (

    select
        'netsuite_transactions' as source_table,
        transaction_id as source_id,
        transaction_id as invoice_id,
        tranid,
        client_id,
        currency_code,
        due_date,
        total_amount,
        concat_ws(
            '; ',
            case when due_date is null then 'missing due date' end,
            case when currency_code is null then 'missing currency' end
        ) as reason

    from invoices

    where due_date is null
        or currency_code is null

)

select * from quarantined
