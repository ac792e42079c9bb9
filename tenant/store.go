package tenant

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// store holds the tenant package's SQL: tenants and environments here, API
// keys and the audit log in store_keys.go and store_audit.go.
type store struct{}

const tenantColumns = `id, partner_code, partner_id, name, contact_name, contact_email, status, created_at, updated_at`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.PartnerCode, &t.PartnerID, &t.Name, &t.ContactName, &t.ContactEmail, &t.Status, &t.CreatedAt, &t.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

func (store) insertTenant(ctx context.Context, q db.Querier, p CreateParams) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx,
		`INSERT INTO tenants (partner_code, partner_id, name, contact_name, contact_email)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+tenantColumns,
		p.PartnerCode, p.PartnerID, p.Name, p.ContactName, p.ContactEmail))
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

func (store) tenantByID(ctx context.Context, q db.Querier, id int64) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("get tenant %d: %w", id, err)
	}
	return t, err
}

// tenantForUpdate reads and locks a tenant row for a change.
func (store) tenantForUpdate(ctx context.Context, q db.Querier, code string) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE partner_code = $1 FOR UPDATE`, code))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("get tenant: %w", err)
	}
	return t, err
}

// listTenants returns tenants with id > after in id order, of one status
// ("" for any).
func (store) listTenants(ctx context.Context, q db.Querier, status string, after int64, limit int) ([]Tenant, error) {
	rows, err := q.Query(ctx, `SELECT `+tenantColumns+` FROM tenants
		WHERE id > $1 AND ($2 = '' OR status = $2) ORDER BY id LIMIT $3`, after, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	tenants := []Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		tenants = append(tenants, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return tenants, nil
}

func (store) updateProfile(ctx context.Context, q db.Querier, id int64, name, contactName, contactEmail string) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `UPDATE tenants SET name = $2, contact_name = $3, contact_email = $4, updated_at = now()
		WHERE id = $1 RETURNING `+tenantColumns, id, name, contactName, contactEmail))
	if err != nil {
		return t, fmt.Errorf("update tenant: %w", err)
	}
	return t, nil
}

func (store) setStatus(ctx context.Context, q db.Querier, id int64, status string) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 RETURNING `+tenantColumns, id, status))
	if err != nil {
		return t, fmt.Errorf("set tenant status: %w", err)
	}
	return t, nil
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

// lock takes a transaction-scoped advisory lock on (what, id): writers of one
// kind for one tenant serialise on it without locking rows.
func (store) lock(ctx context.Context, tx pgx.Tx, what string, id int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, $2))`, what, id); err != nil {
		return fmt.Errorf("lock %s: %w", what, err)
	}
	return nil
}
