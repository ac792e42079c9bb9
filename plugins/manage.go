package plugins

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// Environments plugin settings and activations exist for.
const (
	EnvStaging    = "staging"
	EnvProduction = "production"
)

func validEnv(env string) bool { return env == EnvStaging || env == EnvProduction }

// Page is one page of a tenant's plugins, in id order; Next is the id to
// continue after, 0 when this is the last page.
type Page struct {
	Plugins []Plugin
	Next    int64
}

// List returns up to limit of a tenant's plugins with ids above after.
func (r *Registry) List(ctx context.Context, tenantID, after int64, limit int) (Page, error) {
	if limit <= 0 {
		limit = 50
	}
	ps, err := listPlugins(ctx, r.pool, tenantID, after, limit+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Plugins: ps}
	if len(ps) > limit {
		page.Plugins = ps[:limit]
		page.Next = ps[limit-1].ID
	}
	return page, nil
}

// Delete removes a tenant's plugin, and its bytes when no other plugin uses
// them. A plugin active in an environment is refused with an *InUseError:
// activate another one there first. Its fulfilment records and activation
// history stay, without the link.
func (r *Registry) Delete(ctx context.Context, tenantID, id int64) error {
	return db.InTx(ctx, r.pool, func(tx pgx.Tx) error { return r.DeleteTx(ctx, tx, tenantID, id) })
}

// DeleteTx is Delete inside the caller's transaction.
func (r *Registry) DeleteTx(ctx context.Context, tx pgx.Tx, tenantID, id int64) error {
	pl, err := pluginByID(ctx, tx, tenantID, id)
	if err != nil {
		return err
	}
	sha, err := lockPlugin(ctx, tx, tenantID, id)
	if err != nil {
		return err
	}
	envs, err := activeEnvironments(ctx, tx, tenantID, id)
	if err != nil {
		return err
	}
	if len(envs) > 0 {
		return &InUseError{Environments: envs}
	}
	// An upload reusing these bytes (any tenant's) and this deletion take
	// turns on the blob's row: the blob goes only if, after it, no plugin
	// uses it (see lockBlobShared).
	if err := lockBlobForDelete(ctx, tx, sha); err != nil {
		return err
	}
	if err := deletePlugin(ctx, tx, tenantID, id, sha); err != nil {
		return err
	}
	if r.audit != nil {
		if err := r.audit.AuditTx(ctx, tx, "plugin.delete", tenantID, fmt.Sprintf("plugin:%d", id),
			map[string]any{"name": pl.Name, "version": pl.Version, "sha256": pl.SHA256}); err != nil {
			return err
		}
	}
	r.log.InfoContext(ctx, "plugin deleted", "tenant_id", tenantID, "plugin_id", id, "name", pl.Name, "version", pl.Version)
	return nil
}
