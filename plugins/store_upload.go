package plugins

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The SQL of upload quotas and of the locks that keep a blob from being
// deleted while another plugin starts using it.

// uploadLockClass is the first key of the transaction advisory lock that
// serialises one tenant's uploads, so two at once cannot both pass the
// quota. The two-key form keeps it apart from River's one-key locks.
const uploadLockClass = 0x706c7567 // "plug"

// lockTenantUploads holds the tenant's upload lock until tx ends. Ids past
// int4 share a key with another tenant: that only serialises them.
func lockTenantUploads(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, ($2::bigint % 2147483647)::int4)`,
		uploadLockClass, tenantID); err != nil {
		return fmt.Errorf("lock tenant uploads: %w", err)
	}
	return nil
}

// usage is what a tenant keeps: its plugins and their bytes, each plugin
// counted with its size even when another plugin has the same bytes.
type usage struct {
	plugins int
	bytes   int64
}

func tenantUsage(ctx context.Context, q db.Querier, tenantID int64) (usage, error) {
	var u usage
	if err := q.QueryRow(ctx, `SELECT count(*), COALESCE(sum(b.size), 0)::bigint
		FROM plugins p JOIN plugin_blobs b USING (sha256) WHERE p.tenant_id = $1`, tenantID).Scan(&u.plugins, &u.bytes); err != nil {
		return u, fmt.Errorf("plugin usage: %w", err)
	}
	return u, nil
}

// nameVersionTaken reports whether the tenant has a plugin of that name and
// version (an upload of it is answered without counting against the quota).
func nameVersionTaken(ctx context.Context, q db.Querier, tenantID int64, name, version string) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM plugins WHERE tenant_id = $1 AND name = $2 AND version = $3)`,
		tenantID, name, version).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up plugin: %w", err)
	}
	return ok, nil
}

// lockBlobShared keeps the blob from being deleted until tx ends, and
// reports whether it exists. It conflicts with lockBlobForDelete: an upload
// reusing the bytes and the deletion of their last plugin take turns.
func lockBlobShared(ctx context.Context, tx pgx.Tx, sha string) (bool, error) {
	err := tx.QueryRow(ctx, `SELECT 1 FROM plugin_blobs WHERE sha256 = $1 FOR KEY SHARE`, sha).Scan(new(int))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock plugin binary: %w", err)
	}
	return true, nil
}

// lockBlobForDelete locks the blob before its plugin is deleted, so the
// check that no other plugin uses it runs after any upload that locked it
// first has committed its plugin.
func lockBlobForDelete(ctx context.Context, tx pgx.Tx, sha string) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM plugin_blobs WHERE sha256 = $1 FOR UPDATE`, sha); err != nil {
		return fmt.Errorf("lock plugin binary: %w", err)
	}
	return nil
}
