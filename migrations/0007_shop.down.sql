ALTER TABLE payment_items DROP COLUMN digital_amount;

ALTER TABLE payments
    DROP CONSTRAINT payments_shop_player_check,
    DROP COLUMN player_id,
    DROP COLUMN source,
    ALTER COLUMN partner_reference DROP DEFAULT,
    ALTER COLUMN country_code DROP DEFAULT,
    ALTER COLUMN customer_id DROP DEFAULT,
    ALTER COLUMN payment_method DROP DEFAULT,
    ALTER COLUMN status_updated_at DROP DEFAULT,
    ALTER COLUMN created_date DROP DEFAULT;
