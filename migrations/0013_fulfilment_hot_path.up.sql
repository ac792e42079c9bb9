-- The fulfil path writes a fulfilment record and an attempt row per job
-- (StartFulfil / beginAttempt, then the success), up to 50 jobs of one
-- tenant at once. Every foreign key on those tables was checked on each
-- insert: a lookup plus a KEY SHARE lock on the parent row (five per job).
-- Three of them locked the same tenants and plugins rows from all of a
-- tenant's concurrent jobs, so Postgres built a new MultiXact for those
-- rows on nearly every job. The checks go; what they guaranteed is kept:
--
-- fulfilments.payment_id and fulfilments.tenant_id: both writers take the
-- payment id and its tenant from the payment row they key on (StartFulfil
-- in the same statement), so a record always names its payment and that
-- payment's tenant. Payments are never deleted by partnerhub; they go only
-- with their tenant (payments.tenant_id ON DELETE CASCADE), which
-- partnerhub never deletes either. The cascade from a deleted payment to
-- its records is kept by a trigger (below), so deleting a tenant still
-- removes its records and their attempts. Only a tenant deleted by hand
-- while its jobs run could leave a record behind, naming no payment.
--
-- fulfilment_attempts.fulfilment_id: attempts are inserted only by the
-- statement that inserts or updates (and so locks) their record, from its
-- RETURNING row. The ON DELETE CASCADE is kept by a trigger.
--
-- fulfilments.plugin_id, fulfilment_attempts.plugin_id (ON DELETE SET
-- NULL): a plugin can be deleted once no environment has it active; a
-- trigger clears the links as SET NULL did. Plugin ids are never reused:
-- a job that loaded a plugin before it was deactivated and deleted, and
-- counts an attempt after the delete, leaves an id that names no plugin,
-- never another one.
--
-- The success stays a non-HOT update: `state` is in fulfilments_state_idx
-- and in fulfilments_pending_idx's predicate (the sweeper's), and Postgres
-- counts predicate columns too, so a partial index would not change that.
ALTER TABLE fulfilments
    DROP CONSTRAINT fulfilments_tenant_id_fkey,
    DROP CONSTRAINT fulfilments_payment_id_fkey,
    DROP CONSTRAINT fulfilments_plugin_id_fkey;
ALTER TABLE fulfilment_attempts
    DROP CONSTRAINT fulfilment_attempts_fulfilment_id_fkey,
    DROP CONSTRAINT fulfilment_attempts_plugin_id_fkey;

-- The cascades use the tables' own indexes (payment_id, kind) and
-- (fulfilment_id, number). Like the foreign keys' SET NULL, clearing a
-- deleted plugin's links scans: an index would cost every job an entry to
-- spare a rare delete.
CREATE FUNCTION payments_delete_fulfilments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM fulfilments WHERE payment_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER payments_delete_fulfilments AFTER DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_delete_fulfilments();

CREATE FUNCTION fulfilments_delete_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM fulfilment_attempts WHERE fulfilment_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER fulfilments_delete_attempts AFTER DELETE ON fulfilments
    FOR EACH ROW EXECUTE FUNCTION fulfilments_delete_attempts();

CREATE FUNCTION plugins_unlink_fulfilments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE fulfilments SET plugin_id = NULL WHERE plugin_id = OLD.id;
    UPDATE fulfilment_attempts SET plugin_id = NULL WHERE plugin_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER plugins_unlink_fulfilments AFTER DELETE ON plugins
    FOR EACH ROW EXECUTE FUNCTION plugins_unlink_fulfilments();
