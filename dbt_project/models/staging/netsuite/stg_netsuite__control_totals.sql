-- one row per currency: open invoice amount reported by the source
with

source as (

    select * from {{ source('netsuite', 'control_totals') }}

),

renamed as (

    select
        upper(trim(currency_code)) as currency_code,
        cast(open_amount as decimal(38, 6)) as open_amount

    from source

)

select * from renamed
