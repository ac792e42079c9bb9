-- Onboarding checklist: the steps a studio has set by hand. Steps without a
-- row are "todo"; steps partnerhub can observe are computed when read.
CREATE TABLE onboarding_steps (
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    step       text        NOT NULL,
    status     text        NOT NULL CHECK (status IN ('todo', 'in_progress', 'done')),
    note       text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, step)
);
