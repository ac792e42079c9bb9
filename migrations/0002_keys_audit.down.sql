DROP INDEX api_keys_tenant_idx;
ALTER TABLE tenants DROP COLUMN contact_email, DROP COLUMN contact_name;
DROP TABLE audit_log;
