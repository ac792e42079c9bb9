package tenant

import (
	"context"
	"fmt"
	"time"

	"github.com/partnerhub/partnerhub/internal/db"
)

type stepRow struct {
	status    string
	note      string
	updatedAt time.Time
}

func (store) stepRows(ctx context.Context, q db.Querier, tenantID int64) (map[string]stepRow, error) {
	rows, err := q.Query(ctx, `SELECT step, status, note, updated_at FROM onboarding_steps WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("read checklist: %w", err)
	}
	defer rows.Close()
	out := map[string]stepRow{}
	for rows.Next() {
		var key string
		var r stepRow
		if err := rows.Scan(&key, &r.status, &r.note, &r.updatedAt); err != nil {
			return nil, fmt.Errorf("read checklist: %w", err)
		}
		out[key] = r
	}
	return out, rows.Err()
}

func (store) setStep(ctx context.Context, q db.Querier, tenantID int64, key, status, note string) error {
	_, err := q.Exec(ctx, `INSERT INTO onboarding_steps (tenant_id, step, status, note) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, step) DO UPDATE SET status = EXCLUDED.status, note = EXCLUDED.note, updated_at = now()`,
		tenantID, key, status, note)
	if err != nil {
		return fmt.Errorf("set checklist step: %w", err)
	}
	return nil
}

type observations struct {
	catalog, fulfilmentMethod, stagingPlugin, stagingFulfilled, productionFulfilled bool
}

// observations reads, in one round trip, what the checklist can see done in
// the database (replication is judged by promotion's own comparison).
func (store) observations(ctx context.Context, q db.Querier, tenantID int64) (observations, error) {
	var o observations
	err := q.QueryRow(ctx, `
		WITH plugin AS (
			SELECT EXISTS (SELECT 1 FROM environments WHERE tenant_id = $1 AND name = 'staging' AND active_plugin_id IS NOT NULL) AS active),
		products_staging AS (
			SELECT count(*) AS n, count(*) FILTER (WHERE fulfilment_method = 'plugin') AS by_plugin
			FROM products WHERE tenant_id = $1 AND environment = 'staging')
		SELECT
			(SELECT n > 0 FROM products_staging) AND EXISTS (SELECT 1 FROM bundle_prices WHERE tenant_id = $1 AND environment = 'staging'),
			(SELECT n > 0 AND (by_plugin = 0 OR (SELECT active FROM plugin)) FROM products_staging),
			(SELECT active FROM plugin),
			EXISTS (SELECT 1 FROM fulfilments WHERE tenant_id = $1 AND environment = 'staging' AND kind = 'fulfil' AND state = 'succeeded'),
			EXISTS (SELECT 1 FROM fulfilments WHERE tenant_id = $1 AND environment = 'production' AND kind = 'fulfil' AND state = 'succeeded')`,
		tenantID).Scan(&o.catalog, &o.fulfilmentMethod, &o.stagingPlugin, &o.stagingFulfilled, &o.productionFulfilled)
	if err != nil {
		return o, fmt.Errorf("observe checklist: %w", err)
	}
	return o, nil
}
