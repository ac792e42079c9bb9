package tenant_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func validProduct() tenant.ProductParams {
	return tenant.ProductParams{
		Name: "Gold coins", Description: "The in-game currency.", ImageURL: "https://cdn.example.com/gold.png",
		Countries: []string{"ZA", "NG", "KE"}, FulfilmentMethod: tenant.FulfilPlugin,
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func validBundle(productID int64) tenant.BundleParams {
	return tenant.BundleParams{
		ProductID: productID, SKU: "gold-100", Name: "100 gold", Quantity: dec("100"),
		DigitalCurrencyName: "Gold", DigitalCurrencyCode: "GLD",
		Prices: []tenant.Price{
			{CountryCode: "ZA", CurrencyCode: "ZAR", Amount: dec("99.99")},
			{CountryCode: "NG", CurrencyCode: "NGN", Amount: dec("1000.00")},
			{CountryCode: "NG", CurrencyCode: "USD", Amount: dec("1234.56789012")},
		},
	}
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *tenant.FieldError
	require.True(t, errors.As(err, &fe), "want a FieldError for %s, got %v", field, err)
	require.Equal(t, field, fe.Field, fe.Problem)
}

func TestProductParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   string
		edit  func(p *tenant.ProductParams)
		field string // "" when valid
	}{
		{"valid", tenant.Production, func(*tenant.ProductParams) {}, ""},
		{"no image", tenant.Production, func(p *tenant.ProductParams) { p.ImageURL = "" }, ""},
		{"manual", tenant.Production, func(p *tenant.ProductParams) { p.FulfilmentMethod = tenant.FulfilManual }, ""},
		{"empty name", tenant.Staging, func(p *tenant.ProductParams) { p.Name = "" }, "name"},
		{"blank name", tenant.Staging, func(p *tenant.ProductParams) { p.Name = "   " }, "name"},
		{"200-rune name", tenant.Staging, func(p *tenant.ProductParams) { p.Name = strings.Repeat("é", 200) }, ""},
		{"long name", tenant.Staging, func(p *tenant.ProductParams) { p.Name = strings.Repeat("a", 201) }, "name"},
		{"long description", tenant.Staging, func(p *tenant.ProductParams) { p.Description = strings.Repeat("a", 2001) }, "description"},
		{"relative image", tenant.Staging, func(p *tenant.ProductParams) { p.ImageURL = "/gold.png" }, "imageUrl"},
		{"http image in staging", tenant.Staging, func(p *tenant.ProductParams) { p.ImageURL = "http://localhost:8000/a.png" }, ""},
		{"http image in production", tenant.Production, func(p *tenant.ProductParams) { p.ImageURL = "http://cdn.example.com/a.png" }, "imageUrl"},
		{"ftp image", tenant.Staging, func(p *tenant.ProductParams) { p.ImageURL = "ftp://cdn.example.com/a.png" }, "imageUrl"},
		{"image with credentials", tenant.Production, func(p *tenant.ProductParams) { p.ImageURL = "https://u:p@cdn.example.com/a.png" }, "imageUrl"},
		{"no countries", tenant.Staging, func(p *tenant.ProductParams) { p.Countries = nil }, "countries"},
		{"too many countries", tenant.Staging, func(p *tenant.ProductParams) { p.Countries = make([]string, 251) }, "countries"},
		{"unknown country", tenant.Staging, func(p *tenant.ProductParams) { p.Countries = []string{"ZA", "XX"} }, "countries[1]"},
		{"UK is not ISO", tenant.Staging, func(p *tenant.ProductParams) { p.Countries = []string{"UK"} }, "countries[0]"},
		{"lower-case country", tenant.Staging, func(p *tenant.ProductParams) { p.Countries = []string{"za"} }, "countries[0]"},
		{"duplicate country", tenant.Staging, func(p *tenant.ProductParams) { p.Countries = []string{"ZA", "NG", "ZA"} }, "countries[2]"},
		{"bad fulfilment", tenant.Staging, func(p *tenant.ProductParams) { p.FulfilmentMethod = "email" }, "fulfilmentMethod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := validProduct()
			tt.edit(&p)
			err := p.Validate(tt.env)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireField(t, err, tt.field)
		})
	}
}

func TestBundleParamsValidate(t *testing.T) {
	t.Parallel()
	price := func(country, currency, amount string) tenant.Price {
		return tenant.Price{CountryCode: country, CurrencyCode: currency, Amount: dec(amount)}
	}
	tests := []struct {
		name  string
		edit  func(p *tenant.BundleParams)
		field string
	}{
		{"valid", func(*tenant.BundleParams) {}, ""},
		{"no product", func(p *tenant.BundleParams) { p.ProductID = 0 }, "productId"},
		{"empty sku", func(p *tenant.BundleParams) { p.SKU = "" }, "sku"},
		{"sku with space", func(p *tenant.BundleParams) { p.SKU = "gold 100" }, "sku"},
		{"long sku", func(p *tenant.BundleParams) { p.SKU = strings.Repeat("a", 65) }, "sku"},
		{"64-char sku", func(p *tenant.BundleParams) { p.SKU = strings.Repeat("a", 64) }, ""},
		{"no name", func(p *tenant.BundleParams) { p.Name = "" }, "name"},
		{"zero quantity", func(p *tenant.BundleParams) { p.Quantity = dec("0") }, "quantity"},
		{"negative quantity", func(p *tenant.BundleParams) { p.Quantity = dec("-5") }, "quantity"},
		{"fractional quantity", func(p *tenant.BundleParams) { p.Quantity = dec("2.5") }, ""},
		{"no currency name", func(p *tenant.BundleParams) { p.DigitalCurrencyName = "" }, "digitalCurrency.name"},
		{"bad currency code", func(p *tenant.BundleParams) { p.DigitalCurrencyCode = "G L D" }, "digitalCurrency.code"},
		{"negative pay1st id", func(p *tenant.BundleParams) { p.Pay1stBundleID = -1 }, "pay1stProductBundleId"},
		{"no prices", func(p *tenant.BundleParams) { p.Prices = nil }, "prices"},
		{"too many prices", func(p *tenant.BundleParams) { p.Prices = make([]tenant.Price, 501) }, "prices"},
		{"unknown country", func(p *tenant.BundleParams) { p.Prices[1] = price("XX", "NGN", "1") }, "prices[1].countryCode"},
		{"unknown currency", func(p *tenant.BundleParams) { p.Prices[2] = price("NG", "ABC", "1") }, "prices[2].currencyCode"},
		{"XXX is no currency", func(p *tenant.BundleParams) { p.Prices[0] = price("ZA", "XXX", "1") }, "prices[0].currencyCode"},
		{"lower-case currency", func(p *tenant.BundleParams) { p.Prices[0] = price("ZA", "zar", "1") }, "prices[0].currencyCode"},
		{"negative price", func(p *tenant.BundleParams) { p.Prices[0] = price("ZA", "ZAR", "-1.00") }, "prices[0].amount"},
		{"zero price", func(p *tenant.BundleParams) { p.Prices[0] = price("ZA", "ZAR", "0.00") }, "prices[0].amount"},
		{"9 fraction digits", func(p *tenant.BundleParams) { p.Prices[0] = price("ZA", "ZAR", "1.123456789") }, "prices[0].amount"},
		{"16 integer digits", func(p *tenant.BundleParams) { p.Prices[0] = price("ZA", "ZAR", "1000000000000000") }, "prices[0].amount"},
		{"15 integer digits", func(p *tenant.BundleParams) { p.Prices[0] = price("ZA", "ZAR", "999999999999999.99999999") }, ""},
		{"same country twice", func(p *tenant.BundleParams) { p.Prices[2] = price("NG", "NGN", "5") }, "prices[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := validBundle(1)
			p.Prices = append([]tenant.Price{}, p.Prices...)
			tt.edit(&p)
			err := p.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireField(t, err, tt.field)
		})
	}
}

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"1", "0.5", "1000.00", "1234.56789012", "999999999999999.99999999", "0"} {
		d, err := tenant.ParseDecimal("amount", s)
		require.NoError(t, err, s)
		require.Equal(t, s, tenant.DecimalString(d), "the scale is kept")
	}
	for _, s := range []string{"", "-1", "+1", "1e3", "1.", ".5", "01", "1,5", "abc", "NaN", "Infinity", " 1", "1.123456789", "1000000000000000", "0x10"} {
		_, err := tenant.ParseDecimal("prices[0].amount", s)
		requireField(t, err, "prices[0].amount")
	}
}

// catalogTenant creates a tenant and returns its id.
func catalogTenant(t *testing.T, b bundle, code string, id int64) int64 {
	t.Helper()
	c, err := b.svc.Create(context.Background(), tenant.CreateParams{PartnerCode: code, PartnerID: id, Name: "Studio " + code})
	require.NoError(t, err)
	return c.ID
}

func TestCatalogCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tid := catalogTenant(t, b, "acme", 1)

	p, err := b.svc.CreateProduct(ctx, tid, tenant.Staging, validProduct())
	require.NoError(t, err)
	require.Equal(t, []string{"ZA", "NG", "KE"}, p.Countries)
	require.Equal(t, tenant.Staging, p.Environment)

	got, err := b.svc.GetProduct(ctx, tid, tenant.Staging, p.ID)
	require.NoError(t, err)
	require.Equal(t, p, got)
	_, err = b.svc.GetProduct(ctx, tid, tenant.Production, p.ID)
	require.ErrorIs(t, err, tenant.ErrNotFound, "another environment's product is not found")

	bp := validBundle(p.ID)
	bp.Pay1stBundleID = 77
	bd, err := b.svc.CreateBundle(ctx, tid, tenant.Staging, bp)
	require.NoError(t, err)
	require.Equal(t, "gold-100", bd.SKU)
	require.EqualValues(t, 77, bd.Pay1stBundleID)

	gb, err := b.svc.GetBundle(ctx, tid, tenant.Staging, bd.ID)
	require.NoError(t, err)
	require.Equal(t, "100", tenant.DecimalString(gb.Quantity))
	amounts := map[string]string{}
	for _, pr := range gb.Prices {
		amounts[pr.CountryCode+"/"+pr.CurrencyCode] = tenant.DecimalString(pr.Amount)
	}
	require.Equal(t, map[string]string{"ZA/ZAR": "99.99", "NG/NGN": "1000.00", "NG/USD": "1234.56789012"}, amounts,
		"amounts come back exactly, scale included")
	require.Equal(t, "NG", gb.Prices[0].CountryCode, "prices in country, currency order")
	require.Equal(t, "NGN", gb.Prices[0].CurrencyCode)
	require.Equal(t, bd.Prices, gb.Prices)

	// Update replaces every field, prices included.
	up := validBundle(p.ID)
	up.SKU, up.Name, up.Quantity = "gold-110", "110 gold", dec("110.5")
	up.Prices = []tenant.Price{{CountryCode: "KE", CurrencyCode: "KES", Amount: dec("150")}}
	ub, err := b.svc.UpdateBundle(ctx, tid, tenant.Staging, bd.ID, up)
	require.NoError(t, err)
	require.Equal(t, "gold-110", ub.SKU)
	require.Zero(t, ub.Pay1stBundleID, "an update replaces every field")
	gb, err = b.svc.GetBundle(ctx, tid, tenant.Staging, bd.ID)
	require.NoError(t, err)
	require.Len(t, gb.Prices, 1)
	require.Equal(t, "150", tenant.DecimalString(gb.Prices[0].Amount))
	require.Equal(t, "110.5", tenant.DecimalString(gb.Quantity))

	pp := validProduct()
	pp.Name, pp.FulfilmentMethod = "Gold", tenant.FulfilManual
	pp.Countries = []string{"KE"}
	upd, err := b.svc.UpdateProduct(ctx, tid, tenant.Staging, p.ID, pp)
	require.NoError(t, err)
	require.Equal(t, "Gold", upd.Name)
	require.Equal(t, []string{"KE"}, upd.Countries)

	require.ErrorIs(t, b.svc.DeleteProduct(ctx, tid, tenant.Staging, p.ID), tenant.ErrInUse)
	require.NoError(t, b.svc.DeleteBundle(ctx, tid, tenant.Staging, bd.ID))
	require.ErrorIs(t, b.svc.DeleteBundle(ctx, tid, tenant.Staging, bd.ID), tenant.ErrNotFound)
	require.NoError(t, b.svc.DeleteProduct(ctx, tid, tenant.Staging, p.ID))
	_, err = b.svc.GetProduct(ctx, tid, tenant.Staging, p.ID)
	require.ErrorIs(t, err, tenant.ErrNotFound)

	var actions []string
	rows, err := b.pool.Query(ctx, `SELECT action FROM audit_log WHERE tenant_id = $1 AND action ~ '^(product|bundle)\.' ORDER BY id`, tid)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"product.create", "bundle.create", "bundle.update", "product.update", "bundle.delete", "product.delete"}, actions,
		"every write is audited; refused ones are not")
}

func TestCatalogConflictsAndScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acme := catalogTenant(t, b, "acme", 1)
	rival := catalogTenant(t, b, "rival", 2)

	p, err := b.svc.CreateProduct(ctx, acme, tenant.Staging, validProduct())
	require.NoError(t, err)
	bp := validBundle(p.ID)
	bp.Pay1stBundleID = 5
	first, err := b.svc.CreateBundle(ctx, acme, tenant.Staging, bp)
	require.NoError(t, err)

	dup := validBundle(p.ID)
	_, err = b.svc.CreateBundle(ctx, acme, tenant.Staging, dup)
	require.ErrorIs(t, err, tenant.ErrConflict)
	require.ErrorContains(t, err, "sku")

	dup.SKU, dup.Pay1stBundleID = "gold-200", 5
	_, err = b.svc.CreateBundle(ctx, acme, tenant.Staging, dup)
	require.ErrorIs(t, err, tenant.ErrConflict)
	require.ErrorContains(t, err, "pay1stProductBundleId")

	// Updating another bundle onto a used SKU conflicts too.
	dup.Pay1stBundleID = 0
	second, err := b.svc.CreateBundle(ctx, acme, tenant.Staging, dup)
	require.NoError(t, err)
	dup.SKU = first.SKU
	_, err = b.svc.UpdateBundle(ctx, acme, tenant.Staging, second.ID, dup)
	require.ErrorIs(t, err, tenant.ErrConflict)

	// The same SKU is free in production and in another tenant.
	pp, err := b.svc.CreateProduct(ctx, acme, tenant.Production, validProduct())
	require.NoError(t, err)
	_, err = b.svc.CreateBundle(ctx, acme, tenant.Production, validBundle(pp.ID))
	require.NoError(t, err)
	rp, err := b.svc.CreateProduct(ctx, rival, tenant.Staging, validProduct())
	require.NoError(t, err)
	_, err = b.svc.CreateBundle(ctx, rival, tenant.Staging, validBundle(rp.ID))
	require.NoError(t, err)

	// A price in a country the product is not enabled in.
	bad := validBundle(p.ID)
	bad.SKU = "gold-300"
	bad.Prices = append(bad.Prices, tenant.Price{CountryCode: "GH", CurrencyCode: "GHS", Amount: dec("10")})
	_, err = b.svc.CreateBundle(ctx, acme, tenant.Staging, bad)
	requireField(t, err, "prices[3].countryCode")

	// Another tenant's, or another environment's, product is not a product.
	for _, pid := range []int64{rp.ID, pp.ID, 999999} {
		other := validBundle(pid)
		other.SKU = "gold-400"
		_, err = b.svc.CreateBundle(ctx, acme, tenant.Staging, other)
		requireField(t, err, "productId")
	}

	// Another tenant's ids are not found, for every operation.
	_, err = b.svc.GetProduct(ctx, rival, tenant.Staging, p.ID)
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = b.svc.UpdateProduct(ctx, rival, tenant.Staging, p.ID, validProduct())
	require.ErrorIs(t, err, tenant.ErrNotFound)
	require.ErrorIs(t, b.svc.DeleteProduct(ctx, rival, tenant.Staging, p.ID), tenant.ErrNotFound)
	_, err = b.svc.GetBundle(ctx, rival, tenant.Staging, first.ID)
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = b.svc.UpdateBundle(ctx, rival, tenant.Staging, first.ID, validBundle(rp.ID))
	require.ErrorIs(t, err, tenant.ErrNotFound)
	require.ErrorIs(t, b.svc.DeleteBundle(ctx, rival, tenant.Staging, first.ID), tenant.ErrNotFound)
	_, err = b.svc.GetProduct(ctx, acme, "sandbox", p.ID)
	require.ErrorIs(t, err, tenant.ErrNotFound)
	page, err := b.svc.ListBundles(ctx, rival, tenant.Staging, tenant.BundleFilter{})
	require.NoError(t, err)
	require.Len(t, page.Bundles, 1)
	require.Equal(t, rival, page.Bundles[0].TenantID)

	// Narrowing a product's countries under its bundles' prices is refused.
	narrow := validProduct()
	narrow.Countries = []string{"KE"}
	_, err = b.svc.UpdateProduct(ctx, acme, tenant.Staging, p.ID, narrow)
	require.ErrorIs(t, err, tenant.ErrInUse)
	require.ErrorContains(t, err, "NG (gold-100, gold-200)")
	require.ErrorContains(t, err, "ZA (gold-100, gold-200)")
	got, err := b.svc.GetProduct(ctx, acme, tenant.Staging, p.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"ZA", "NG", "KE"}, got.Countries, "a refused update changes nothing")
}

func TestCatalogPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tid := catalogTenant(t, b, "acme", 1)
	other := catalogTenant(t, b, "rival", 2)

	var want []int64
	for i := range 7 {
		p := validProduct()
		p.Name = fmt.Sprintf("Product %d", i)
		created, err := b.svc.CreateProduct(ctx, tid, tenant.Staging, p)
		require.NoError(t, err)
		want = append(want, created.ID)
		_, err = b.svc.CreateProduct(ctx, other, tenant.Staging, p) // interleaved noise
		require.NoError(t, err)
	}
	var got []int64
	cursor, pages := "", 0
	for {
		page, err := b.svc.ListProducts(ctx, tid, tenant.Staging, tenant.ProductFilter{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(page.Products), 3)
		for _, p := range page.Products {
			got = append(got, p.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		require.Less(t, pages, 10, "the cursor must reach the end")
	}
	require.Equal(t, want, got, "every product once, in id order")
	require.Equal(t, 3, pages)

	// Bundles: filtered by product, paged to the end.
	var bundleIDs []int64
	for i := range 5 {
		bp := validBundle(want[i%2])
		bp.SKU = fmt.Sprintf("sku-%d", i)
		bd, err := b.svc.CreateBundle(ctx, tid, tenant.Staging, bp)
		require.NoError(t, err)
		if i%2 == 0 {
			bundleIDs = append(bundleIDs, bd.ID)
		}
	}
	var gotBundles []int64
	cursor = ""
	for range 10 {
		page, err := b.svc.ListBundles(ctx, tid, tenant.Staging, tenant.BundleFilter{ProductID: want[0], Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		for _, bd := range page.Bundles {
			require.Len(t, bd.Prices, 3, "listed bundles carry their prices")
			gotBundles = append(gotBundles, bd.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	require.Equal(t, bundleIDs, gotBundles)

	page, err := b.svc.ListBundles(ctx, tid, tenant.Staging, tenant.BundleFilter{SKU: "sku-3"})
	require.NoError(t, err)
	require.Len(t, page.Bundles, 1)
	require.Equal(t, "sku-3", page.Bundles[0].SKU)
	require.Empty(t, page.NextCursor)

	_, err = b.svc.ListProducts(ctx, tid, tenant.Staging, tenant.ProductFilter{Cursor: "not-a-cursor!"})
	requireField(t, err, "cursor")
}

func TestDeleteBundleBoughtByPayment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tid := catalogTenant(t, b, "acme", 1)
	p, err := b.svc.CreateProduct(ctx, tid, tenant.Staging, validProduct())
	require.NoError(t, err)
	bd, err := b.svc.CreateBundle(ctx, tid, tenant.Staging, validBundle(p.ID))
	require.NoError(t, err)
	insertPaymentItem(t, b, tid, tenant.Staging, bd.ID, "C1st_sold")

	err = b.svc.DeleteBundle(ctx, tid, tenant.Staging, bd.ID)
	require.ErrorIs(t, err, tenant.ErrInUse)
	require.ErrorContains(t, err, "C1st_sold", "the problem says which payment")
	_, err = b.svc.GetBundle(ctx, tid, tenant.Staging, bd.ID)
	require.NoError(t, err, "nothing was deleted")

	// Deleting the whole tenant still cascades through it all.
	_, err = b.pool.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, tid)
	require.NoError(t, err)
	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM products) + (SELECT count(*) FROM bundles)
		+ (SELECT count(*) FROM bundle_prices) + (SELECT count(*) FROM payment_items)`).Scan(&n))
	require.Zero(t, n)
}

// insertPaymentItem records a payment that bought bundleID, as the Summary
// Webhook will.
func insertPaymentItem(t *testing.T, b bundle, tenantID int64, env string, bundleID int64, reference string) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `
		WITH p AS (
			INSERT INTO payments (tenant_id, environment, reference, partner_reference, status, amount, currency_code,
				country_code, customer_id, payment_method, status_updated_at, created_date)
			VALUES ($1, $2, $3, 'order-1', 'SUCCESSFUL', 99.99, 'ZAR', 'ZA', 1, 'CARD', now(), now())
			RETURNING id)
		INSERT INTO payment_items (payment_id, tenant_id, environment, bundle_id, quantity)
		SELECT id, $1, $2, $4, 1 FROM p`, tenantID, env, reference, bundleID)
	require.NoError(t, err)
}
