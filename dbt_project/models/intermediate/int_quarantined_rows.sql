-- one row per source row held back today, with the reason: rows that did
-- not parse on landing, invoices and credits that failed a check, and
-- account managers whose email is unusable; the planner reports them all
-- in one ops alert
with

landing as (

    select * from {{ source('netsuite', 'quarantine') }}

),

invoices as (

    select * from {{ ref('int_quarantined_invoices') }}

),

credits as (

    select * from {{ ref('base_netsuite__credits') }}

),

customers as (

    select * from {{ ref('stg_netsuite__customers') }}

),

employees as (

    select * from {{ ref('stg_netsuite__employees') }}

),

not_parsed as (

    select
        source_table,
        source_id,
        payload ->> 'tranid' as document_number,
        try_cast(
            coalesce(payload ->> 'entity', payload ->> 'company') as bigint
        ) as client_id,
        'did not parse on landing: ' || reason as reason

    from landing

),

quarantined_invoices as (

    select
        source_table,
        source_id,
        tranid as document_number,
        client_id,
        reason

    from invoices

),

quarantined_credits as (

    select
        'netsuite_transactions' as source_table,
        cast(credit_id as varchar) as source_id,
        tranid as document_number,
        client_id,
        quarantine_reason as reason

    from credits

    where
        quarantine_reason is not null
        and unapplied_amount > 0

),

account_managers as (

    select distinct am_id

    from customers

    where am_id is not null

),

unusable_am_emails as (

    select
        'netsuite_employees' as source_table,
        cast(employees.employee_id as varchar) as source_id,
        cast(null as varchar) as document_number,
        cast(null as bigint) as client_id,
        'account manager email is not a single valid address; '
        || 'left out of Cc' as reason

    from employees

    inner join account_managers
        on employees.employee_id = account_managers.am_id

    where
        employees.email is not null
        and not employees.is_email_usable

),

unioned as (

    select * from not_parsed
    union all
    select * from quarantined_invoices
    union all
    select * from quarantined_credits
    union all
    select * from unusable_am_emails

)

select * from unioned
