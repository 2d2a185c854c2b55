-- one row per NetSuite customer (a client)
with

source as (

    select * from {{ source('netsuite', 'customers') }}

),

renamed as (

    select
        id as client_id,
        entityid as client_code,
        companyname as client_name,
        nullif(trim(email), '') as email,
        nullif(trim(language), '') as language,
        upper(nullif(trim(currency_code), '')) as currency_code,
        subsidiary as subsidiary_id,
        salesrep as am_id,
        coalesce(isinactive, false) as is_inactive,
        coalesce(is_high_value, false) as is_high_value,
        coalesce(is_manual_hold, false) as is_manual_hold,
        cast(hold_until as date) as hold_until_date

    from source

),

with_language_code as (

    select
        *,
        -- NetSuite gives a locale ('ja_JP') or a display name ('Japanese')
        coalesce(
            nullif(
                regexp_extract(lower(language), '^([a-z]{2})([_-].*)?$', 1),
                ''
            ),
            case split_part(lower(language), ' ', 1)
                when 'english' then 'en'
                when 'japanese' then 'ja'
                when 'german' then 'de'
                when 'french' then 'fr'
                when 'spanish' then 'es'
                when 'italian' then 'it'
                when 'dutch' then 'nl'
                when 'portuguese' then 'pt'
                when 'chinese' then 'zh'
                when 'korean' then 'ko'
            end
        ) as language_code

    from renamed

)

select * from with_language_code
