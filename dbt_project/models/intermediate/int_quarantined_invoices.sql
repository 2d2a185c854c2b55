-- one row per landed invoice held back from alerting, with the reason
with

checked_invoices as (

    select * from {{ ref('base_netsuite__invoices') }}

),

quarantined as (

    select
        'netsuite_transactions' as source_table,
        cast(transaction_id as varchar) as source_id,
        transaction_id as invoice_id,
        tranid,
        client_id,
        currency_code,
        due_date,
        total_amount,
        quarantine_reason as reason

    from checked_invoices

    where quarantine_reason is not null

)

select * from quarantined
