-- Issue 3: who did what. The audit log of management writes, and a tenant's
-- contact details for the tenant lifecycle.

-- One row per management write, written in the write's own transaction (so a
-- rolled-back change leaves no entry). details never holds a secret.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    -- The API key that acted; NULL for the system (CLI, dev seeding). Not a
    -- foreign key: the entry outlives the key's row.
    actor_key_id bigint,
    actor_scope  text        NOT NULL CHECK (actor_scope IN ('operator', 'tenant', 'system')),
    tenant_id    bigint      REFERENCES tenants (id) ON DELETE CASCADE,
    action       text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target       text        NOT NULL DEFAULT '' CHECK (length(target) <= 200),
    details      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id DESC);

ALTER TABLE tenants
    ADD COLUMN contact_name  text NOT NULL DEFAULT '' CHECK (length(contact_name) <= 200),
    ADD COLUMN contact_email text NOT NULL DEFAULT '' CHECK (length(contact_email) <= 254);

-- Listing a tenant's (or the operators') keys in id order.
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, id);
