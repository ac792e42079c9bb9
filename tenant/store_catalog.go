package tenant

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The SQL of the catalog. Every statement is scoped by tenant_id and
// environment, and the schema's composite foreign keys make a row of one
// scope unable to reference another's. Decimals cross as text both ways, so
// no value passes through a float and the scale is kept.

// Row locks a read may take; constants, never input.
const (
	lockShare  = " FOR SHARE"
	lockUpdate = " FOR UPDATE"
)

// Constraint names the store maps to package errors (0004_catalog.up.sql).
const (
	bundleSKUKey        = "bundles_sku_key"
	bundlePay1stIDKey   = "bundles_pay1st_bundle_id_key"
	bundleProductFK     = "bundles_product_fk"
	paymentItemBundleFK = "payment_items_bundle_fk"
)

// foreignKeyViolation reports whether err is a foreign-key violation and,
// if so, the constraint's name.
func foreignKeyViolation(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return pgErr.ConstraintName, true
	}
	return "", false
}

const productColumns = `id, tenant_id, environment, name, description, image_url, countries, fulfilment_method, created_at, updated_at`

func scanProduct(row pgx.Row) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.TenantID, &p.Environment, &p.Name, &p.Description, &p.ImageURL, &p.Countries,
		&p.FulfilmentMethod, &p.CreatedAt, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	return p, err
}

func (store) insertProduct(ctx context.Context, q db.Querier, tenantID int64, env string, p ProductParams) (Product, error) {
	out, err := scanProduct(q.QueryRow(ctx, `
		INSERT INTO products (tenant_id, environment, name, description, image_url, countries, fulfilment_method)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+productColumns,
		tenantID, env, p.Name, p.Description, p.ImageURL, p.Countries, p.FulfilmentMethod))
	if err != nil {
		return out, fmt.Errorf("insert product: %w", err)
	}
	return out, nil
}

// productByID reads a product, taking lock ("", lockShare or lockUpdate).
func (store) productByID(ctx context.Context, q db.Querier, tenantID int64, env string, id int64, lock string) (Product, error) {
	p, err := scanProduct(q.QueryRow(ctx, `SELECT `+productColumns+` FROM products
		WHERE tenant_id = $1 AND environment = $2 AND id = $3`+lock, tenantID, env, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return p, fmt.Errorf("get product: %w", err)
	}
	return p, err
}

func (store) listProducts(ctx context.Context, q db.Querier, tenantID int64, env string, after int64, limit int) ([]Product, error) {
	rows, err := q.Query(ctx, `SELECT `+productColumns+` FROM products
		WHERE tenant_id = $1 AND environment = $2 AND id > $3 ORDER BY id LIMIT $4`, tenantID, env, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Product, error) { return scanProduct(r) })
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return out, nil
}

func (store) updateProduct(ctx context.Context, q db.Querier, tenantID int64, env string, id int64, p ProductParams) (Product, error) {
	out, err := scanProduct(q.QueryRow(ctx, `
		UPDATE products SET name = $4, description = $5, image_url = $6, countries = $7, fulfilment_method = $8, updated_at = now()
		WHERE tenant_id = $1 AND environment = $2 AND id = $3 RETURNING `+productColumns,
		tenantID, env, id, p.Name, p.Description, p.ImageURL, p.Countries, p.FulfilmentMethod))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return out, fmt.Errorf("update product: %w", err)
	}
	return out, err
}

// pricedOutside lists (up to 5) countries outside countries in which
// bundles of the product still have prices, each with those bundles' SKUs.
func (store) pricedOutside(ctx context.Context, q db.Querier, tenantID int64, env string, productID int64, countries []string) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT bp.country_code || ' (' || string_agg(DISTINCT b.sku, ', ' ORDER BY b.sku) || ')'
		FROM bundles b JOIN bundle_prices bp
			ON bp.bundle_id = b.id AND bp.tenant_id = b.tenant_id AND bp.environment = b.environment
		WHERE b.tenant_id = $1 AND b.environment = $2 AND b.product_id = $3 AND NOT (bp.country_code = ANY ($4))
		GROUP BY bp.country_code ORDER BY bp.country_code LIMIT $5`,
		tenantID, env, productID, countries, maxInUseExamples)
	if err != nil {
		return nil, fmt.Errorf("find priced countries: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find priced countries: %w", err)
	}
	return out, nil
}

// bundlesOfProduct returns the SKUs of up to limit of the product's bundles
// and how many it has in all.
func (store) bundlesOfProduct(ctx context.Context, q db.Querier, tenantID int64, env string, productID int64, limit int) ([]string, int, error) {
	return namesAndCount(ctx, q, "find product's bundles", `
		SELECT sku, count(*) OVER () FROM bundles
		WHERE tenant_id = $1 AND environment = $2 AND product_id = $3 ORDER BY id LIMIT $4`,
		tenantID, env, productID, limit)
}

// paymentsOfBundle returns the references of up to limit of the payments
// that bought the bundle and how many there are in all.
func (store) paymentsOfBundle(ctx context.Context, q db.Querier, tenantID int64, env string, bundleID int64, limit int) ([]string, int, error) {
	return namesAndCount(ctx, q, "find bundle's payments", `
		SELECT reference, count(*) OVER () FROM (
			SELECT DISTINCT p.id, p.reference
			FROM payment_items i
			JOIN payments p ON p.id = i.payment_id AND p.tenant_id = i.tenant_id AND p.environment = i.environment
			WHERE i.tenant_id = $1 AND i.environment = $2 AND i.bundle_id = $3) AS x
		ORDER BY id LIMIT $4`,
		tenantID, env, bundleID, limit)
}

func namesAndCount(ctx context.Context, q db.Querier, what, sql string, args ...any) ([]string, int, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	var names []string
	var total int
	for rows.Next() {
		var name string
		if err := rows.Scan(&name, &total); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("%s: %w", what, err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	return names, total, nil
}

func (store) deleteProduct(ctx context.Context, q db.Querier, tenantID int64, env string, id int64) error {
	tag, err := q.Exec(ctx, `DELETE FROM products WHERE tenant_id = $1 AND environment = $2 AND id = $3`, tenantID, env, id)
	if name, ok := foreignKeyViolation(err); ok && name == bundleProductFK {
		return fmt.Errorf("%w: product %d has bundles; delete them first", ErrInUse, id)
	}
	if err != nil {
		return fmt.Errorf("delete product: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

const bundleColumns = `id, tenant_id, environment, product_id, sku, name, quantity::text,
	digital_currency_name, digital_currency_code, coalesce(pay1st_bundle_id, 0), created_at, updated_at`

func scanBundle(row pgx.Row) (Bundle, error) {
	var b Bundle
	var quantity string
	err := row.Scan(&b.ID, &b.TenantID, &b.Environment, &b.ProductID, &b.SKU, &b.Name, &quantity,
		&b.DigitalCurrencyName, &b.DigitalCurrencyCode, &b.Pay1stBundleID, &b.CreatedAt, &b.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, ErrNotFound
	}
	if err != nil {
		return b, err
	}
	if b.Quantity, err = decimal.NewFromString(quantity); err != nil {
		return b, fmt.Errorf("bundle %d quantity %q: %w", b.ID, quantity, err)
	}
	b.Prices = []Price{}
	return b, nil
}

// bundleWriteError maps a bundle insert's or update's constraint violations
// to the API fields they concern; what lies behind other errors is wrapped.
func bundleWriteError(op string, err error, env string, p BundleParams) error {
	if name, ok := db.UniqueViolation(err); ok {
		switch name {
		case bundleSKUKey:
			return fmt.Errorf("%w: sku %q is already used in %s", ErrConflict, p.SKU, env)
		case bundlePay1stIDKey:
			return fmt.Errorf("%w: pay1stProductBundleId %d is already another bundle's in %s", ErrConflict, p.Pay1stBundleID, env)
		}
	}
	if name, ok := foreignKeyViolation(err); ok && name == bundleProductFK {
		return errNoProduct()
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (store) insertBundle(ctx context.Context, q db.Querier, tenantID int64, env string, p BundleParams) (Bundle, error) {
	b, err := scanBundle(q.QueryRow(ctx, `
		INSERT INTO bundles (tenant_id, environment, product_id, sku, name, quantity,
			digital_currency_name, digital_currency_code, pay1st_bundle_id)
		VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, NULLIF($9::bigint, 0)) RETURNING `+bundleColumns,
		tenantID, env, p.ProductID, p.SKU, p.Name, DecimalString(p.Quantity),
		p.DigitalCurrencyName, p.DigitalCurrencyCode, p.Pay1stBundleID))
	if err != nil {
		return b, bundleWriteError("insert bundle", err, env, p)
	}
	return b, nil
}

// bundleByID reads a bundle without its prices, taking lock ("", lockShare
// or lockUpdate).
func (store) bundleByID(ctx context.Context, q db.Querier, tenantID int64, env string, id int64, lock string) (Bundle, error) {
	b, err := scanBundle(q.QueryRow(ctx, `SELECT `+bundleColumns+` FROM bundles
		WHERE tenant_id = $1 AND environment = $2 AND id = $3`+lock, tenantID, env, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return b, fmt.Errorf("get bundle: %w", err)
	}
	return b, err
}

// listBundles reads bundles without their prices; f's zero fields do not
// filter.
func (store) listBundles(ctx context.Context, q db.Querier, tenantID int64, env string, f BundleFilter, after int64, limit int) ([]Bundle, error) {
	rows, err := q.Query(ctx, `SELECT `+bundleColumns+` FROM bundles
		WHERE tenant_id = $1 AND environment = $2 AND id > $3
			AND ($4::bigint = 0 OR product_id = $4)
			AND ($5::text = '' OR sku = $5)
			AND ($6::bigint = 0 OR pay1st_bundle_id = $6)
		ORDER BY id LIMIT $7`,
		tenantID, env, after, f.ProductID, f.SKU, f.Pay1stBundleID, limit)
	if err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Bundle, error) { return scanBundle(r) })
	if err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	return out, nil
}

func (store) updateBundle(ctx context.Context, q db.Querier, tenantID int64, env string, id int64, p BundleParams) (Bundle, error) {
	b, err := scanBundle(q.QueryRow(ctx, `
		UPDATE bundles SET product_id = $4, sku = $5, name = $6, quantity = $7::numeric,
			digital_currency_name = $8, digital_currency_code = $9, pay1st_bundle_id = NULLIF($10::bigint, 0),
			updated_at = now()
		WHERE tenant_id = $1 AND environment = $2 AND id = $3 RETURNING `+bundleColumns,
		tenantID, env, id, p.ProductID, p.SKU, p.Name, DecimalString(p.Quantity),
		p.DigitalCurrencyName, p.DigitalCurrencyCode, p.Pay1stBundleID))
	if errors.Is(err, ErrNotFound) {
		return b, err
	}
	if err != nil {
		return b, bundleWriteError("update bundle", err, env, p)
	}
	return b, nil
}

// replacePrices makes prices the bundle's whole price list and returns it
// in country, then currency order.
func (store) replacePrices(ctx context.Context, q db.Querier, tenantID int64, env string, bundleID int64, prices []Price) ([]Price, error) {
	if _, err := q.Exec(ctx, `DELETE FROM bundle_prices WHERE tenant_id = $1 AND environment = $2 AND bundle_id = $3`,
		tenantID, env, bundleID); err != nil {
		return nil, fmt.Errorf("replace prices: %w", err)
	}
	countries := make([]string, len(prices))
	currencies := make([]string, len(prices))
	amounts := make([]string, len(prices))
	for i, p := range prices {
		countries[i], currencies[i], amounts[i] = p.CountryCode, p.CurrencyCode, DecimalString(p.Amount)
	}
	if _, err := q.Exec(ctx, `
		INSERT INTO bundle_prices (bundle_id, tenant_id, environment, country_code, currency_code, amount)
		SELECT $1, $2, $3, u.country, u.currency, u.amount::numeric
		FROM unnest($4::text[], $5::text[], $6::text[]) AS u (country, currency, amount)`,
		bundleID, tenantID, env, countries, currencies, amounts); err != nil {
		return nil, fmt.Errorf("replace prices: %w", err)
	}
	out := append([]Price{}, prices...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].CountryCode != out[j].CountryCode {
			return out[i].CountryCode < out[j].CountryCode
		}
		return out[i].CurrencyCode < out[j].CurrencyCode
	})
	return out, nil
}

// loadPrices fills the Prices of bundles, all of tenantID's env, in one
// query.
func (store) loadPrices(ctx context.Context, q db.Querier, tenantID int64, env string, bundles []*Bundle) error {
	if len(bundles) == 0 {
		return nil
	}
	byID := make(map[int64]*Bundle, len(bundles))
	ids := make([]int64, len(bundles))
	for i, b := range bundles {
		byID[b.ID], ids[i] = b, b.ID
		b.Prices = []Price{}
	}
	rows, err := q.Query(ctx, `SELECT bundle_id, country_code, currency_code, amount::text FROM bundle_prices
		WHERE tenant_id = $1 AND environment = $2 AND bundle_id = ANY ($3)
		ORDER BY bundle_id, country_code, currency_code`, tenantID, env, ids)
	if err != nil {
		return fmt.Errorf("load prices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p Price
		var amount string
		if err := rows.Scan(&id, &p.CountryCode, &p.CurrencyCode, &amount); err != nil {
			return fmt.Errorf("load prices: %w", err)
		}
		if p.Amount, err = decimal.NewFromString(amount); err != nil {
			return fmt.Errorf("load prices: bundle %d amount %q: %w", id, amount, err)
		}
		if b := byID[id]; b != nil {
			b.Prices = append(b.Prices, p)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load prices: %w", err)
	}
	return nil
}

func (store) deleteBundle(ctx context.Context, q db.Querier, tenantID int64, env string, id int64) error {
	tag, err := q.Exec(ctx, `DELETE FROM bundles WHERE tenant_id = $1 AND environment = $2 AND id = $3`, tenantID, env, id)
	if name, ok := foreignKeyViolation(err); ok && name == paymentItemBundleFK {
		return fmt.Errorf("%w: bundle %d is referenced by payments", ErrInUse, id)
	}
	if err != nil {
		return fmt.Errorf("delete bundle: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
