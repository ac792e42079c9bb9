DROP TRIGGER plugins_unlink_fulfilments ON plugins;
DROP FUNCTION plugins_unlink_fulfilments();
DROP TRIGGER fulfilments_delete_attempts ON fulfilments;
DROP FUNCTION fulfilments_delete_attempts();
DROP TRIGGER payments_delete_fulfilments ON payments;
DROP FUNCTION payments_delete_fulfilments();

-- What the up allows in a race (see there) would fail the checks: a record
-- left by a deleted payment or tenant goes, a deleted plugin's id is
-- cleared, as the foreign keys would have done.
DELETE FROM fulfilments f
    WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = f.payment_id)
       OR NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = f.tenant_id);
DELETE FROM fulfilment_attempts a
    WHERE NOT EXISTS (SELECT 1 FROM fulfilments f WHERE f.id = a.fulfilment_id);
UPDATE fulfilments f SET plugin_id = NULL
    WHERE plugin_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM plugins p WHERE p.id = f.plugin_id);
UPDATE fulfilment_attempts a SET plugin_id = NULL
    WHERE plugin_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM plugins p WHERE p.id = a.plugin_id);

ALTER TABLE fulfilment_attempts
    ADD CONSTRAINT fulfilment_attempts_fulfilment_id_fkey
        FOREIGN KEY (fulfilment_id) REFERENCES fulfilments (id) ON DELETE CASCADE,
    ADD CONSTRAINT fulfilment_attempts_plugin_id_fkey
        FOREIGN KEY (plugin_id) REFERENCES plugins (id) ON DELETE SET NULL;
ALTER TABLE fulfilments
    ADD CONSTRAINT fulfilments_tenant_id_fkey
        FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    ADD CONSTRAINT fulfilments_payment_id_fkey
        FOREIGN KEY (payment_id) REFERENCES payments (id) ON DELETE CASCADE,
    ADD CONSTRAINT fulfilments_plugin_id_fkey
        FOREIGN KEY (plugin_id) REFERENCES plugins (id) ON DELETE SET NULL;
