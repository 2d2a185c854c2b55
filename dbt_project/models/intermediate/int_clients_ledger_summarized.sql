-- one row per client: what earlier runs delivered (cadence, campaign hold)
{%- set as_of = as_of_date() %}
with

customers as (

    select * from {{ ref('stg_netsuite__customers') }}

),

ledger as (

    select * from {{ ref('stg_ops__ledger') }}

),

-- only runs before this business date count, so re-running a day (or a
-- backfill) sees the state that day started from
earlier_deliveries as (

    select * from ledger

    where
        is_delivered
        and as_of_date < {{ as_of }}

),

client_emails as (

    select
        client_id,
        max(as_of_date) as last_client_email_date

    from earlier_deliveries

    where
        channel = 'email'
        and kind = 'client_overdue'

    group by 1

),

hold_events as (

    select
        client_id,
        kind,
        as_of_date,
        delivered_at

    from earlier_deliveries

    where
        channel = 'campaign'
        and kind in ('hold_placed', 'hold_lifted')

),

latest_hold_events as (

    select * from hold_events

    qualify row_number() over (
        partition by client_id
        order by as_of_date desc, delivered_at desc nulls last
    ) = 1

),

final as (

    select
        customers.client_id,
        client_emails.last_client_email_date,
        client_emails.last_client_email_date is null
        or datediff(
            'day', client_emails.last_client_email_date, {{ as_of }}
        ) >= {{ policy_int('cadence_days') }} as is_cadence_eligible,
        coalesce(latest_hold_events.kind = 'hold_placed', false)
            as has_active_hold,
        case
            when latest_hold_events.kind = 'hold_placed'
                then latest_hold_events.as_of_date
        end as hold_placed_date

    from customers

    left join client_emails
        on customers.client_id = client_emails.client_id

    left join latest_hold_events
        on customers.client_id = latest_hold_events.client_id

)

select * from final
