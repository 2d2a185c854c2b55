{#- A DECIMAL(38,6) amount as plain text without trailing zeros, for
    reasons shown to ops ('1200.5', '100'); never through a float. -#}
{% macro decimal_text(amount) -%}
    regexp_replace(cast({{ amount }} as varchar), '\.?0+$', '')
{%- endmacro %}

{#- True when an amount has more decimal places than its currency's minor
    units (JPY 0, EUR 2, KWD 3); rounding stays DECIMAL because each
    precision is a constant. -#}
{% macro has_excess_decimals(amount, minor_units) -%}
    case {{ minor_units }}
        when 0 then {{ amount }} <> round({{ amount }}, 0)
        when 1 then {{ amount }} <> round({{ amount }}, 1)
        when 2 then {{ amount }} <> round({{ amount }}, 2)
        when 3 then {{ amount }} <> round({{ amount }}, 3)
        when 4 then {{ amount }} <> round({{ amount }}, 4)
        else false
    end
{%- endmacro %}

{#- A single plain addr-spec with a dotted domain, as delivery accepts. -#}
{% macro is_plain_email(column) -%}
    coalesce(
        regexp_full_match(
            {{ column }},
            '[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+'
            || '(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*'
            || '@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?'
            || '(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+'
        ),
        false
    )
{%- endmacro %}
