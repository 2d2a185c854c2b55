-- one row per client: whether automated client emails are off, and why
{%- set as_of = as_of_date() %}
with

customers as (

    select * from {{ ref('stg_netsuite__customers') }}

),

invoices as (

    select * from {{ ref('stg_netsuite__invoices') }}

),

exclusions as (

    select * from {{ ref('client_exclusions') }}

),

thresholds as (

    {{ billed_thresholds_relation() }}

),

billed as (

    select
        client_id,
        currency_code,
        sum(total_amount) as billed_amount

    from invoices

    -- TODO: the trailing window is fixed at 365 days, because policy.yaml
    -- has no key for it; remove when the policy names this window
    where transaction_date between {{ as_of }} - 365 and {{ as_of }}

    group by 1, 2

),

billed_over_threshold as (

    select
        billed.client_id,
        string_agg(billed.currency_code, ', ' order by billed.currency_code)
            as currency_codes

    from billed

    inner join thresholds
        on billed.currency_code = thresholds.currency_code

    where billed.billed_amount >= thresholds.threshold_amount

    group by 1

),

listed as (

    select
        client_id,
        string_agg(coalesce(reason, 'listed'), '; ' order by reason)
            as listed_reason

    from exclusions

    group by 1

),

flagged as (

    select
        customers.client_id,
        customers.is_high_value as is_high_value_flagged,
        listed.client_id is not null as is_listed,
        billed_over_threshold.client_id is not null as is_high_value_billed,
        customers.is_manual_hold,
        -- an inactive customer gets no automated dunning; the AM decides
        coalesce(customers.is_inactive, false) as is_inactive,
        coalesce(customers.hold_until_date >= {{ as_of }}, false)
            as is_held_until,
        customers.hold_until_date,
        listed.listed_reason,
        billed_over_threshold.currency_codes as billed_currency_codes

    from customers

    left join listed
        on customers.client_id = listed.client_id

    left join billed_over_threshold
        on customers.client_id = billed_over_threshold.client_id

),

final as (

    select
        client_id,
        is_high_value_flagged
        or is_listed
        or is_high_value_billed as is_high_value,
        is_high_value_flagged
        or is_listed
        or is_high_value_billed
        or is_manual_hold
        or is_held_until
        or is_inactive as is_excluded,
        nullif(
            concat_ws(
                '; ',
                case when is_high_value_flagged then 'high value' end,
                case when is_listed then 'listed: ' || listed_reason end,
                case
                    when is_high_value_billed
                        then 'high value: billed '
                        || billed_currency_codes
                        || ' over threshold'
                end,
                case when is_manual_hold then 'manual hold' end,
                case when is_inactive then 'inactive in NetSuite' end,
                case
                    when is_held_until
                        then 'on hold until '
                        || strftime(hold_until_date, '%Y-%m-%d')
                end
            ),
            ''
        ) as exclusion_reason

    from flagged

)

select * from final
