package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The SQL of API keys. Queries scope keys by owner: the operators'
// (tenant_id IS NULL) or one tenant's, so a tenant never reaches another's.

const keyColumns = `id, prefix, name, scope, coalesce(tenant_id, 0), role, created_at, last_used_at, revoked_at`

func scanKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Prefix, &k.Name, &k.Scope, &k.TenantID, &k.Role, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, ErrNotFound
	}
	return k, err
}

// keyAuth is what Authenticate needs of a live key.
type keyAuth struct {
	Principal
	lastUsedAt *time.Time
}

func (store) keyByPrefix(ctx context.Context, q db.Querier, prefix string) (keyAuth, []byte, error) {
	var k keyAuth
	var hash []byte
	err := q.QueryRow(ctx, `SELECT id, scope, coalesce(tenant_id, 0), role, secret_hash, last_used_at
		FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL`, prefix).
		Scan(&k.KeyID, &k.Scope, &k.TenantID, &k.Role, &hash, &k.lastUsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, nil, ErrNotFound
	}
	if err != nil {
		return k, nil, fmt.Errorf("get API key: %w", err)
	}
	return k, hash, nil
}

// touchKey sets last_used_at, unless another request did within every.
func (store) touchKey(ctx context.Context, q db.Querier, id int64, every time.Duration) error {
	_, err := q.Exec(ctx, `UPDATE api_keys SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - $2::interval)`, id, every)
	if err != nil {
		return fmt.Errorf("touch API key: %w", err)
	}
	return nil
}

// insertKeyIfAbsent stores a key's hash and reports whether it did; an
// existing prefix is left as it is.
func (store) insertKeyIfAbsent(ctx context.Context, q db.Querier, prefix string, hash []byte, scope string, tenantID int64, role, name string) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO api_keys (prefix, secret_hash, scope, tenant_id, role, name)
		VALUES ($1, $2, $3, NULLIF($4::bigint, 0), $5, $6) ON CONFLICT (prefix) DO NOTHING`,
		prefix, hash, scope, tenantID, role, name)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (store) insertKey(ctx context.Context, q db.Querier, prefix string, hash []byte, p NewKeyParams) (APIKey, error) {
	k, err := scanKey(q.QueryRow(ctx, `INSERT INTO api_keys (prefix, secret_hash, scope, tenant_id, role, name)
		VALUES ($1, $2, $3, NULLIF($4::bigint, 0), $5, $6) RETURNING `+keyColumns,
		prefix, hash, p.Scope, p.TenantID, p.Role, p.Name))
	if _, ok := db.UniqueViolation(err); ok {
		// 40 random bits of prefix: a collision is rare enough to retry by hand.
		return k, fmt.Errorf("%w: API key prefix; try again", ErrConflict)
	}
	if err != nil {
		return k, fmt.Errorf("insert API key: %w", err)
	}
	return k, nil
}

// owner selects the operators' keys or tenant $1's; $1 is always bound so
// both shapes take the same arguments (0 for the operators).
func owner(scope string) string {
	if scope == ScopeOperator {
		return `scope = 'operator' AND tenant_id IS NULL AND $1::bigint = 0`
	}
	return `scope = 'tenant' AND tenant_id = $1`
}

func (store) countLiveKeys(ctx context.Context, q db.Querier, scope string, tenantID int64) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE `+owner(scope)+` AND revoked_at IS NULL`,
		tenantID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count API keys: %w", err)
	}
	return n, nil
}

func (store) listKeys(ctx context.Context, q db.Querier, scope string, tenantID, after int64, limit int) ([]APIKey, error) {
	rows, err := q.Query(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE `+owner(scope)+` AND id > $2 ORDER BY id LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	keys := []APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

func (store) keyForUpdate(ctx context.Context, q db.Querier, scope string, tenantID int64, prefix string) (APIKey, error) {
	k, err := scanKey(q.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE `+owner(scope)+` AND prefix = $2 FOR UPDATE`, tenantID, prefix))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return k, fmt.Errorf("get API key: %w", err)
	}
	return k, err
}

// lockLiveOperatorKeys locks the live operator keys in id order and counts
// them.
func (store) lockLiveOperatorKeys(ctx context.Context, q db.Querier) (int, error) {
	rows, err := q.Query(ctx, `SELECT id FROM api_keys WHERE scope = 'operator' AND revoked_at IS NULL ORDER BY id FOR UPDATE`)
	if err != nil {
		return 0, fmt.Errorf("lock operator keys: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("lock operator keys: %w", err)
	}
	return n, nil
}

func (store) revokeKey(ctx context.Context, q db.Querier, id int64) (APIKey, error) {
	k, err := scanKey(q.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING `+keyColumns, id))
	if err != nil {
		return k, fmt.Errorf("revoke API key: %w", err)
	}
	return k, nil
}

// revokedKey reports whether prefix names a revoked key with this hash.
func (store) revokedKey(ctx context.Context, q db.Querier, prefix string, hash []byte) (bool, error) {
	var revoked bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE prefix = $1 AND secret_hash = $2 AND revoked_at IS NOT NULL)`,
		prefix, hash).Scan(&revoked)
	if err != nil {
		return false, fmt.Errorf("check revoked key: %w", err)
	}
	return revoked, nil
}
