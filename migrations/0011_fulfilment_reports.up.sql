-- Issue 6: fulfilment reports. Pay1st is Merchant of Record and needs to hear
-- that a gateway payment (one partnerhub created as an order) was delivered
-- (Fulfilment Completion, protocol §5). One row per payment, created in the
-- transaction that records the fulfilment's success, together with the job
-- that reports it; the row, not the job, says whether Pay1st accepted it.
CREATE TABLE fulfilment_reports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment  text        NOT NULL,
    payment_id   bigint      NOT NULL UNIQUE REFERENCES payments (id) ON DELETE CASCADE,
    reference    text        NOT NULL,
    -- pending: to be reported (or being retried); succeeded: Pay1st accepted
    -- it (never reported again); failed: retries ran out, an operator decides.
    state        text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts     int         NOT NULL DEFAULT 0,
    -- Why the last attempt failed: Pay1st's words or ours, never credentials
    -- or tokens; clipped.
    last_error   text        NOT NULL DEFAULT '' CHECK (char_length(last_error) <= 1024),
    -- When the game was credited: the fulfilmentTime reported.
    fulfilled_at timestamptz NOT NULL,
    -- The lines Pay1st accepted ([{sku, quantity}]), once it did.
    products     jsonb       NOT NULL DEFAULT '[]',
    reported_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'succeeded' OR reported_at IS NOT NULL),
    -- A Pay1st reference is one payment of a tenant environment: the lookup
    -- of retry-payment-report.
    UNIQUE (tenant_id, environment, reference)
);
-- The sweeper's scan: pending reports not touched for a while (few; the
-- rest have succeeded).
CREATE INDEX fulfilment_reports_pending_idx ON fulfilment_reports (updated_at) WHERE state = 'pending';
