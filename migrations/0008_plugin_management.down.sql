DROP INDEX plugins_sha256_idx;
DROP INDEX plugins_tenant_idx;
ALTER TABLE fulfilments DROP CONSTRAINT fulfilments_plugin_id_fkey,
    ADD CONSTRAINT fulfilments_plugin_id_fkey FOREIGN KEY (plugin_id) REFERENCES plugins (id);
DROP TABLE plugin_activations;
DROP TABLE plugin_settings;
