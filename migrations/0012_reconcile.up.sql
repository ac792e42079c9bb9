-- Issue 6: reconciliation. One row per Pay1st reference reconciliation has
-- asked about: a payment stuck in a non-final status, or an order created at
-- Pay1st that no webhook ever followed. A run claims a row (next_check_at
-- moves ahead) before asking Pay1st, so concurrent runs never ask twice and
-- a reference is asked less and less often (backoff). Rows go when the
-- payment settles and when reconciliation gives up (a later webhook makes
-- the payment a candidate again), so the table holds only open checks;
-- other tables are not altered, so orders and payments stay their owners'.
CREATE TABLE reconcile_checks (
    tenant_id       bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment     text        NOT NULL,
    reference       text        NOT NULL,
    -- payment: a payments row exists; order: only the order does.
    subject         text        NOT NULL CHECK (subject IN ('payment', 'order')),
    -- The Pay1st asked: 'pay1st' or 'simulator' (the order's).
    gateway         text        NOT NULL CHECK (gateway IN ('pay1st', 'simulator')),
    checks          int         NOT NULL DEFAULT 0,
    last_checked_at timestamptz NOT NULL,
    next_check_at   timestamptz NOT NULL,
    -- Pay1st's answer to the last query, or why it failed (no secrets).
    last_status     text        NOT NULL DEFAULT '',
    last_error      text        NOT NULL DEFAULT '' CHECK (char_length(last_error) <= 1024),
    PRIMARY KEY (tenant_id, environment, reference)
);
-- Re-checks are driven by due time.
CREATE INDEX reconcile_checks_due_idx ON reconcile_checks (next_check_at);

-- How far reconciliation's discovery of orders no webhook followed got
-- (orders by created_at): each run reads only orders newer than this,
-- less a margin, not every order of the give-up window again.
CREATE TABLE reconcile_cursors (
    subject    text        PRIMARY KEY CHECK (subject = 'order'),
    scanned_to timestamptz NOT NULL
);

-- Payments that may still move, by how long partnerhub has heard nothing
-- new about them: new references are found by walking this index.
-- (Orders use orders_reconcile_idx of 0010.)
CREATE INDEX payments_unsettled_idx ON payments (updated_at)
    WHERE status NOT IN ('SUCCESSFUL', 'REFUND', 'CHARGEBACK');

-- Staging test transactions (package stagingtest): a simulated purchase run
-- through the whole path, its steps kept so a repeat of the request (same
-- partnerReference) answers or resumes the same one.
CREATE TABLE test_transactions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    partner_reference text        NOT NULL CHECK (char_length(partner_reference) BETWEEN 1 AND 128),
    -- SHA-256 of the request's meaningful fields: a repeat with another
    -- body is a conflict.
    request_hash      bytea       NOT NULL CHECK (length(request_hash) = 32),
    sku               text        NOT NULL,
    player_id         bigint      NOT NULL CHECK (player_id > 0),
    country_code      text        NOT NULL,
    -- running: a request is working on it (until lease_until); succeeded,
    -- failed: final; pending: the wait ended before the last step, a
    -- repeat of the request resumes it.
    status            text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'pending')),
    reference         text        NOT NULL DEFAULT '',
    steps             jsonb       NOT NULL DEFAULT '[]',
    lease_until       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, partner_reference)
);
