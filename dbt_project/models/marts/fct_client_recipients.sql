-- one row per client and email address a client email goes to
with

customers as (

    select * from {{ ref('stg_netsuite__customers') }}

),

contacts as (

    select * from {{ ref('stg_netsuite__contacts') }}

),

billing_contacts as (

    select
        client_id,
        email,
        'billing_contact' as recipient_source

    from contacts

    where
        is_billing_contact
        and not is_inactive
        and email is not null

),

clients_with_billing_contacts as (

    select distinct client_id from billing_contacts

),

-- the customer's own email field only when it has no billing contact
customer_emails as (

    select
        customers.client_id,
        customers.email,
        'customer_email' as recipient_source

    from customers

    left join clients_with_billing_contacts
        on customers.client_id = clients_with_billing_contacts.client_id

    where
        customers.email is not null
        and clients_with_billing_contacts.client_id is null

),

recipients as (

    select * from billing_contacts

    union all

    select * from customer_emails

),

final as (

    select * from recipients

    qualify row_number() over (
        partition by client_id, lower(email)
        order by email
    ) = 1

)

select * from final
