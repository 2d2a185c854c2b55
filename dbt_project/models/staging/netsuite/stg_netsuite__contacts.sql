-- one row per contact of a customer
with

source as (

    select * from {{ source('netsuite', 'contacts') }}

),

renamed as (

    select
        id as contact_id,
        company as client_id,
        firstname as first_name,
        lastname as last_name,
        nullif(trim(email), '') as email,
        contactrole as contact_role,
        coalesce(lower(trim(contactrole)) = 'billing', false)
            as is_billing_contact,
        coalesce(isinactive, false) as is_inactive

    from source

)

select * from renamed
