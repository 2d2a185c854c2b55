-- one row per employee (account managers are the customers' sales reps)
with

source as (

    select * from {{ source('netsuite', 'employees') }}

),

renamed as (

    select
        id as employee_id,
        firstname as first_name,
        lastname as last_name,
        nullif(trim(concat_ws(' ', firstname, lastname)), '') as full_name,
        nullif(trim(email), '') as email,
        nullif(trim(gchat_space), '') as chat_space

    from source

),

flagged as (

    select
        *,
        -- an AM address that would fail delivery's check is left out of
        -- Cc (and reported) rather than failing the client's email
        {{ is_plain_email('email') }} as is_email_usable

    from renamed

)

select * from flagged
