-- one row per landed invoice, with why it is held back from alerting
-- (quarantine_reason, null when it can be reminded)
with

transactions as (

    select * from {{ ref('base_netsuite__transactions') }}

),

customers as (

    select distinct id as client_id

    from {{ source('netsuite', 'customers') }}

),

currencies as (

    select * from {{ ref('iso_currencies') }}

),

lines as (

    select
        transaction as invoice_id,
        count(*) as line_count,
        -- income lines carry a negative GL sign at the source
        sum(abs(cast(foreignamount as decimal(38, 6)))) as line_amount

    from {{ source('netsuite', 'transaction_lines') }}

    group by 1

),

invoices as (

    select
        *,
        -- a repeated id is never quarantined: it must reach the uniqueness
        -- test and block every send (case H13)
        count(*) over (partition by transaction_id) > 1 as is_repeated_id

    from transactions

    where transaction_type = 'invoice'

),

joined as (

    select
        invoices.*,
        currencies.currency_code is not null as is_known_currency,
        currencies.minor_units,
        customers.client_id is not null as is_known_client,
        coalesce(lines.line_count, 0) as line_count,
        lines.line_amount

    from invoices

    left join currencies
        on invoices.currency_code = currencies.currency_code

    left join customers
        on invoices.client_id = customers.client_id

    left join lines
        on invoices.transaction_id = lines.invoice_id

),

checked as (

    select
        *,
        nullif(concat_ws(
            '; ',
            case when due_date is null then 'missing due date' end,
            case
                when nullif(trim(tranid), '') is null
                    then 'missing document number'
            end,
            case when currency_code is null then 'missing currency' end,
            case
                when currency_code is not null and not is_known_currency
                    then 'unknown currency ' || currency_code
            end,
            case
                when not is_known_client
                    then 'client ' || client_id || ' is not a landed customer'
            end,
            case
                when total_amount < 0
                    then 'negative total ' || {{ decimal_text('total_amount') }}
            end,
            case
                when amount_paid < 0
                    then 'negative amount paid '
                    || {{ decimal_text('amount_paid') }}
            end,
            case
                when amount_paid > total_amount and total_amount >= 0
                    then 'paid ' || {{ decimal_text('amount_paid') }}
                    || ', more than the total '
                    || {{ decimal_text('total_amount') }}
            end,
            case
                when amount_unpaid < 0
                    and not coalesce(amount_paid > total_amount, false)
                    then 'negative amount unpaid '
                    || {{ decimal_text('amount_unpaid') }}
            end,
            case
                when due_date < transaction_date
                    then 'due date '
                    || strftime(due_date, '%Y-%m-%d')
                    || ' before invoice date '
                    || strftime(transaction_date, '%Y-%m-%d')
            end,
            case
                when {{ has_excess_decimals('total_amount', 'minor_units') }}
                    or {{ has_excess_decimals('amount_paid', 'minor_units') }}
                    or {{ has_excess_decimals('amount_unpaid', 'minor_units') }}
                    then currency_code || ' amount with more than '
                    || minor_units || ' decimal places'
            end,
            case
                when line_count > 0 and line_amount <> abs(total_amount)
                    then 'lines sum to ' || {{ decimal_text('line_amount') }}
                    || ', not the total ' || {{ decimal_text('total_amount') }}
            end
        ), '') as check_failures

    from joined

),

final as (

    select
        * exclude (check_failures),
        case when not is_repeated_id then check_failures end
            as quarantine_reason

    from checked

)

select * from final
