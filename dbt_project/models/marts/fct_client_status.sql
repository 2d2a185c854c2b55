-- one row per client: every fact the planner needs to send or skip
with

customers as (

    select * from {{ ref('stg_netsuite__customers') }}

),

employees as (

    select * from {{ ref('stg_netsuite__employees') }}

),

tiered as (

    select * from {{ ref('int_clients_tiered') }}

),

excluded as (

    select * from {{ ref('int_clients_excluded') }}

),

ledger_summary as (

    select * from {{ ref('int_clients_ledger_summarized') }}

),

allocated as (

    select * from {{ ref('int_invoices_credits_allocated') }}

),

balances as (

    select * from {{ ref('fct_client_balances') }}

),

recipients as (

    select * from {{ ref('fct_client_recipients') }}

),

invoice_flags as (

    select
        client_id,
        bool_or(
            is_open_after_credits and dpd >= 1
        ) as has_past_due_after_credits,
        bool_or(
            not is_disputed
            and dpd >= {{ policy_int('overdue_threshold_days') }}
        ) as has_overdue_before_credits,
        bool_or(
            is_disputed
            and dpd >= {{ policy_int('overdue_threshold_days') }}
        ) as has_disputed_overdue

    from allocated

    group by 1

),

balance_flags as (

    select
        client_id,
        count(*) filter (where has_overdue) as overdue_currency_count,
        max(oldest_dpd) as oldest_dpd,
        bool_or(open_balance > 0) as has_open_balance,
        bool_or(
            not is_net_balance_positive
            and credits_applied + unapplied_credit_amount > 0
        ) as has_net_credit_balance

    from balances

    group by 1

),

recipient_counts as (

    select
        client_id,
        count(*) as recipient_count

    from recipients

    group by 1

),

final as (

    select
        customers.client_id,
        customers.client_code,
        customers.client_name,
        customers.currency_code as default_currency_code,
        -- the client's language, else by currency (JPY), else English
        coalesce(
            customers.language_code,
            case customers.currency_code when 'JPY' then 'ja' end,
            'en'
        ) as language_code,
        customers.is_inactive,
        tiered.is_late_payer,
        tiered.late_payment_count,
        tiered.offence_count,
        tiered.tier,
        ledger_summary.last_client_email_date,
        ledger_summary.is_cadence_eligible,
        excluded.is_excluded,
        excluded.exclusion_reason,
        excluded.is_high_value,
        ledger_summary.has_active_hold,
        ledger_summary.hold_placed_date,
        not coalesce(invoice_flags.has_past_due_after_credits, false)
            as is_balance_resolved,
        coalesce(balance_flags.overdue_currency_count, 0) > 0 as has_overdue,
        coalesce(balance_flags.overdue_currency_count, 0)
            as overdue_currency_count,
        balance_flags.oldest_dpd,
        coalesce(balance_flags.has_open_balance, false) as has_open_balance,
        coalesce(invoice_flags.has_overdue_before_credits, false)
            as has_overdue_before_credits,
        coalesce(balance_flags.has_net_credit_balance, false)
            as has_net_credit_balance,
        coalesce(invoice_flags.has_disputed_overdue, false)
            as has_disputed_overdue,
        coalesce(recipient_counts.recipient_count, 0) > 0 as has_recipient,
        coalesce(recipient_counts.recipient_count, 0) as recipient_count,
        customers.am_id,
        employees.full_name as am_name,
        case
            when employees.is_email_usable then employees.email
        end as am_email,
        employees.chat_space as am_chat_space

    from customers

    left join employees
        on customers.am_id = employees.employee_id

    left join tiered
        on customers.client_id = tiered.client_id

    left join excluded
        on customers.client_id = excluded.client_id

    left join ledger_summary
        on customers.client_id = ledger_summary.client_id

    left join invoice_flags
        on customers.client_id = invoice_flags.client_id

    left join balance_flags
        on customers.client_id = balance_flags.client_id

    left join recipient_counts
        on customers.client_id = recipient_counts.client_id

)

select * from final
