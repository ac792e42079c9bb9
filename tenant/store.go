package tenant

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// store holds the SQL for tenants, environments and API keys.
type store struct{}

const tenantColumns = `id, partner_code, partner_id, name, status, created_at, updated_at`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.PartnerCode, &t.PartnerID, &t.Name, &t.Status, &t.CreatedAt, &t.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

func (store) insertTenant(ctx context.Context, q db.Querier, p CreateParams) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx,
		`INSERT INTO tenants (partner_code, partner_id, name) VALUES ($1, $2, $3) RETURNING `+tenantColumns,
		p.PartnerCode, p.PartnerID, p.Name))
	if name, ok := db.UniqueViolation(err); ok {
		field := "partnerCode"
		if name == "tenants_partner_id_key" {
			field = "partnerId"
		}
		return t, fmt.Errorf("%w: %s", ErrConflict, field)
	}
	if err != nil {
		return t, fmt.Errorf("insert tenant: %w", err)
	}
	return t, nil
}

func (store) insertEnv(ctx context.Context, q db.Querier, tenantID int64, name string, sealedKey []byte) error {
	_, err := q.Exec(ctx, `INSERT INTO environments (tenant_id, name, signing_key) VALUES ($1, $2, $3)`, tenantID, name, sealedKey)
	if err != nil {
		return fmt.Errorf("insert environment %s: %w", name, err)
	}
	return nil
}

func (store) tenantByCode(ctx context.Context, q db.Querier, code string) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE partner_code = $1`, code))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("get tenant: %w", err)
	}
	return t, err
}

// envRow is an environment as stored: the signing key still sealed.
type envRow struct {
	Env
	sealedKey []byte
}

func (store) env(ctx context.Context, q db.Querier, code, name string) (envRow, error) {
	var r envRow
	var plugin *int64
	err := q.QueryRow(ctx, `
		SELECT t.id, t.partner_code, t.partner_id, t.status, e.name, e.auth_mode, e.signing_key, e.active_plugin_id
		FROM tenants t JOIN environments e ON e.tenant_id = t.id
		WHERE t.partner_code = $1 AND e.name = $2`, code, name).
		Scan(&r.TenantID, &r.PartnerCode, &r.PartnerID, &r.TenantStatus, &r.Name, &r.AuthMode, &r.sealedKey, &plugin)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("get environment: %w", err)
	}
	if plugin != nil {
		r.ActivePluginID = *plugin
	}
	return r, nil
}

// setActivePlugin switches the environment to one of the tenant's own
// plugins; another tenant's plugin id matches no row.
func (store) setActivePlugin(ctx context.Context, q db.Querier, tenantID int64, env string, pluginID int64) error {
	tag, err := q.Exec(ctx, `UPDATE environments SET active_plugin_id = $3, updated_at = now()
		WHERE tenant_id = $1 AND name = $2 AND EXISTS (SELECT 1 FROM plugins WHERE id = $3 AND tenant_id = $1)`,
		tenantID, env, pluginID)
	if err != nil {
		return fmt.Errorf("set active plugin: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (store) keyByPrefix(ctx context.Context, q db.Querier, prefix string) (Principal, []byte, error) {
	var p Principal
	var tenantID *int64
	var hash []byte
	err := q.QueryRow(ctx, `SELECT id, scope, tenant_id, role, secret_hash FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL`, prefix).
		Scan(&p.KeyID, &p.Scope, &tenantID, &p.Role, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil, ErrNotFound
	}
	if err != nil {
		return p, nil, fmt.Errorf("get API key: %w", err)
	}
	if tenantID != nil {
		p.TenantID = *tenantID
	}
	return p, hash, nil
}

// insertKey stores a key's hash; an existing prefix is left as it is.
func (store) insertKey(ctx context.Context, q db.Querier, prefix string, hash []byte, scope string, tenantID int64, role, name string) error {
	_, err := q.Exec(ctx, `INSERT INTO api_keys (prefix, secret_hash, scope, tenant_id, role, name)
		VALUES ($1, $2, $3, NULLIF($4::bigint, 0), $5, $6) ON CONFLICT (prefix) DO NOTHING`,
		prefix, hash, scope, tenantID, role, name)
	return err
}
