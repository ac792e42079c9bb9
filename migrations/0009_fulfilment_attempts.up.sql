-- Issue 5: every attempt at a fulfilment or reversal, kept as history when an
-- operator retries it by hand (the record itself keeps only the count and the
-- last error). Written in the same statements that count an attempt and
-- record its outcome.
CREATE TABLE fulfilment_attempts (
    fulfilment_id bigint      NOT NULL REFERENCES fulfilments (id) ON DELETE CASCADE,
    -- The record's attempt count when this attempt began: 1, 2, ...
    number        int         NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    -- running: under way (or its node died); succeeded; failed (the reason
    -- says how; the record says whether it was final); released: put back
    -- without an outcome (shutdown, host busy) to be tried again; unknown:
    -- the job ended without recording an outcome.
    outcome       text        NOT NULL DEFAULT 'running'
        CHECK (outcome IN ('running', 'succeeded', 'failed', 'released', 'unknown')),
    -- Redacted and clipped like fulfilments.last_error.
    reason        text        NOT NULL DEFAULT '',
    plugin_id     bigint      REFERENCES plugins (id) ON DELETE SET NULL,
    -- The node (host name and process id) that ran it: for operators, never
    -- shown to tenants.
    node          text        NOT NULL DEFAULT '',
    PRIMARY KEY (fulfilment_id, number)
);

-- The sweeper looks for pending records whose job ended without an outcome.
CREATE INDEX fulfilments_pending_idx ON fulfilments (id) WHERE state = 'pending';
