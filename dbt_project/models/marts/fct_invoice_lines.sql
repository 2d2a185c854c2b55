-- one row per line of an invoice listed in fct_open_invoices
with

open_invoices as (

    select * from {{ ref('fct_open_invoices') }}

),

invoice_lines as (

    select * from {{ ref('stg_netsuite__invoice_lines') }}

),

final as (

    select
        invoice_lines.invoice_id,
        invoice_lines.line_number,
        open_invoices.tranid,
        open_invoices.client_id,
        open_invoices.currency_code,
        invoice_lines.item,
        invoice_lines.description,
        invoice_lines.quantity,
        invoice_lines.rate,
        invoice_lines.amount

    from invoice_lines

    inner join open_invoices
        on invoice_lines.invoice_id = open_invoices.invoice_id

)

select * from final
