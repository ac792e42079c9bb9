-- Issue 5: tenants manage their plugins themselves. Per-environment plugin
-- settings, sealed (AES-GCM, bound to tenant and environment) and never stored
-- in clear; their names are kept in clear so the API can say which are set.
CREATE TABLE plugin_settings (
    tenant_id   bigint      NOT NULL,
    environment text        NOT NULL,
    sealed      bytea       NOT NULL,
    names       text[]      NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, environment),
    FOREIGN KEY (tenant_id, environment) REFERENCES environments (tenant_id, name) ON DELETE CASCADE
);

-- Every successful activation, with what the plugin's Describe said then: the
-- history of an environment's plugins (rollback = activate a previous one).
CREATE TABLE plugin_activations (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          bigint      NOT NULL,
    environment        text        NOT NULL,
    -- NULL once the plugin is deleted; the description stays.
    plugin_id          bigint      REFERENCES plugins (id) ON DELETE SET NULL,
    previous_plugin_id bigint      REFERENCES plugins (id) ON DELETE SET NULL,
    described_name     text        NOT NULL,
    described_version  text        NOT NULL,
    protocol_version   int         NOT NULL,
    capabilities       text[]      NOT NULL DEFAULT '{}',
    activated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, environment) REFERENCES environments (tenant_id, name) ON DELETE CASCADE
);
CREATE INDEX plugin_activations_env_idx ON plugin_activations (tenant_id, environment, id DESC);
CREATE INDEX plugin_activations_plugin_idx ON plugin_activations (plugin_id, id DESC);

-- A plugin that fulfilled payments can be deleted (once no environment uses
-- it): its fulfilment records keep everything but the link.
ALTER TABLE fulfilments DROP CONSTRAINT fulfilments_plugin_id_fkey,
    ADD CONSTRAINT fulfilments_plugin_id_fkey FOREIGN KEY (plugin_id) REFERENCES plugins (id) ON DELETE SET NULL;

-- Listing a tenant's plugins pages by id.
CREATE INDEX plugins_tenant_idx ON plugins (tenant_id, id);
-- Deleting a blob checks no plugin of any tenant still uses it.
CREATE INDEX plugins_sha256_idx ON plugins (sha256);
