package tenant

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// bundlesBySKU reads the bundles of skus in one environment, with their
// product's countries and fulfilment method, in one query; prices are
// loaded by loadPrices.
func (store) bundlesBySKU(ctx context.Context, q db.Querier, tenantID int64, env string, skus []string) ([]SaleBundle, error) {
	rows, err := q.Query(ctx, `SELECT b.id, b.tenant_id, b.environment, b.product_id, b.sku, b.name, b.quantity::text,
			b.digital_currency_name, b.digital_currency_code, coalesce(b.pay1st_bundle_id, 0), b.created_at, b.updated_at,
			p.countries, p.fulfilment_method
		FROM bundles b JOIN products p ON p.id = b.product_id AND p.tenant_id = b.tenant_id AND p.environment = b.environment
		WHERE b.tenant_id = $1 AND b.environment = $2 AND b.sku = ANY ($3)
		ORDER BY b.id`, tenantID, env, skus)
	if err != nil {
		return nil, fmt.Errorf("find bundles by sku: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SaleBundle, error) {
		var sb SaleBundle
		b, err := scanBundle(withProduct{r, &sb.ProductCountries, &sb.FulfilmentMethod})
		sb.Bundle = b
		return sb, err
	})
	if err != nil {
		return nil, fmt.Errorf("find bundles by sku: %w", err)
	}
	return out, nil
}

// withProduct scans a bundle's columns, then the product's two after them.
type withProduct struct {
	pgx.Row
	countries *[]string
	method    *string
}

func (r withProduct) Scan(dest ...any) error {
	return r.Row.Scan(append(dest, r.countries, r.method)...)
}

// envsWithCredentials lists the environments of active tenants with all
// three Pay1st Gateway credentials set.
func (store) envsWithCredentials(ctx context.Context, q db.Querier) ([]EnvRef, error) {
	rows, err := q.Query(ctx, `SELECT e.tenant_id, e.name FROM environments e
		JOIN tenants t ON t.id = e.tenant_id AND t.status = 'active'
		WHERE e.api_key IS NOT NULL AND e.api_secret IS NOT NULL AND e.signing_key IS NOT NULL
		ORDER BY e.tenant_id, e.name`)
	if err != nil {
		return nil, fmt.Errorf("environments with gateway credentials: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[EnvRef])
	if err != nil {
		return nil, fmt.Errorf("environments with gateway credentials: %w", err)
	}
	return out, nil
}
