DROP INDEX payment_events_payment_idx;
DROP INDEX payments_customer_idx;
DROP INDEX payments_on_hold_idx;
DROP INDEX payments_tenant_env_id_idx;

ALTER TABLE payment_events
    DROP CONSTRAINT payment_events_flag_check,
    DROP COLUMN flag_reason,
    DROP COLUMN flagged;

ALTER TABLE payments
    DROP CONSTRAINT payments_hold_reason_check,
    DROP COLUMN held_at,
    DROP COLUMN hold_reason,
    DROP COLUMN on_hold;
