{#- Policy vars arrive with every run (ar_assets/model/project.py passes
    every key of policy.yaml). While dbt parses, a var it was not
    given resolves to none; the checks below only run at execution. -#}

{#- The business date of the run: the `as_of` var when given (unit tests,
    hand runs), else the date the model step wrote to ops.run_context. -#}
{% macro as_of_date() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none -%}
    (select as_of from {{ source('ops', 'run_context') }})
    {%- else -%}
    {%- set value = value | string -%}
    {%- if execute
        and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error(
            "var as_of must be 'YYYY-MM-DD', got '" ~ value ~ "'") }}
    {%- endif -%}
    date '{{ value }}'
    {%- endif -%}
{%- endmacro %}

{#- A whole number of days (or tiers) from the policy. -#}
{% macro policy_int(name) -%}
    {%- set value = var(name) | string -%}
    {%- if execute and not modules.re.match('^[0-9]+$', value) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a whole number, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ value if execute else 0 }}
{%- endmacro %}

{#- high_value_billed_threshold as rows (currency_code, threshold_amount);
    no rows when the policy leaves it empty. Amounts stay decimal strings. -#}
{% macro billed_thresholds_relation() -%}
    {%- set thresholds = var('high_value_billed_threshold') or {} -%}
    {%- if thresholds is string -%}
        {%- set thresholds = fromjson(thresholds) or {} -%}
    {%- endif -%}
    {%- set rows = [] -%}
    {%- for currency_code, amount in thresholds.items() -%}
        {%- if not modules.re.match('^[A-Z]{3}$', currency_code | string)
            or not modules.re.match(
                '^[0-9]+([.][0-9]+)?$', amount | string) -%}
            {{ exceptions.raise_compiler_error(
                "high_value_billed_threshold needs ISO currency codes and "
                ~ "decimal strings, got " ~ currency_code ~ ": " ~ amount) }}
        {%- endif -%}
        {%- do rows.append(
            "('" ~ currency_code ~ "', cast('" ~ amount
            ~ "' as decimal(38, 6)))") -%}
    {%- endfor -%}
    {%- if rows -%}
    select *
    from (
        values
        {{ rows | join(',\n        ') }}
    ) as thresholds (currency_code, threshold_amount)
    {%- else -%}
    select
        cast(null as varchar) as currency_code,
        cast(null as decimal(38, 6)) as threshold_amount
    where false
    {%- endif -%}
{%- endmacro %}
