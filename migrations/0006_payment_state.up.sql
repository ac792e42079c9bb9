-- Payment state machine (issue 4): holds for review, flagged events that the
-- transition table refused, and the indexes the payments API lists by.

ALTER TABLE payments
    -- A payment whose amount or currency differs from what partnerhub
    -- expected is held: nothing is fulfilled or reversed until an operator
    -- releases it.
    ADD COLUMN on_hold     boolean     NOT NULL DEFAULT false,
    ADD COLUMN hold_reason text        NOT NULL DEFAULT '',
    ADD COLUMN held_at     timestamptz,
    ADD CONSTRAINT payments_hold_reason_check CHECK (on_hold = (hold_reason <> ''));

ALTER TABLE payment_events
    -- A newer event the transition table forbids (e.g. PENDING after
    -- SUCCESSFUL): recorded and flagged for an operator, never applied.
    ADD COLUMN flagged     boolean     NOT NULL DEFAULT false,
    ADD COLUMN flag_reason text        NOT NULL DEFAULT '',
    ADD CONSTRAINT payment_events_flag_check CHECK (NOT (flagged AND applied));

-- list-payments: newest first within a tenant environment, optionally held only.
CREATE INDEX payments_tenant_env_id_idx ON payments (tenant_id, environment, id DESC);
CREATE INDEX payments_on_hold_idx ON payments (tenant_id, environment, id DESC) WHERE on_hold;
CREATE INDEX payments_customer_idx ON payments (tenant_id, environment, customer_id);
-- A payment's timeline.
CREATE INDEX payment_events_payment_idx ON payment_events (payment_id, id);
