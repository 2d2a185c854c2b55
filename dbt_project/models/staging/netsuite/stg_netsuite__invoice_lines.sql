-- one row per line of a landed invoice
with

source as (

    select * from {{ source('netsuite', 'transaction_lines') }}

),

renamed as (

    select
        transaction as invoice_id,
        linesequencenumber as line_number,
        item,
        memo as description,
        -- income lines carry a negative GL sign at the source; documents
        -- show them positive
        -- TODO: discount lines would also show positive, because the landed
        -- lines carry no line type; remove when land/ lands the line type
        abs(cast(quantity as decimal(38, 6))) as quantity,
        abs(cast(rate as decimal(38, 10))) as rate,
        abs(cast(foreignamount as decimal(38, 6))) as amount

    from source

)

select * from renamed
