-- one row per planned message in the ledger
with

source as (

    select * from {{ source('ops', 'ledger') }}

),

renamed as (

    select
        message_key,
        as_of as as_of_date,
        channel,
        kind,
        client_id,
        invoice_ids,
        tier,
        amounts,
        status,
        status = 'delivered' as is_delivered,
        reason,
        attempts,
        planned_at,
        sending_at,
        delivered_at,
        external_id

    from source

)

select * from renamed
