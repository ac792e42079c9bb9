package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

const acmeStaging = "/v1/tenants/acme/environments/staging"

// catalogDo is b.call with the response's headers and raw body too.
func catalogDo(t *testing.T, b bundle, method, path, key string, body any) (*http.Response, []byte, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp, raw, out
}

func productJSON() map[string]any {
	return map[string]any{
		"name": "Gold coins", "description": "The in-game currency.", "imageUrl": "https://cdn.acme.test/gold.png",
		"countries": []string{"ZA", "NG", "KE"}, "fulfilmentMethod": "plugin",
	}
}

func bundleJSON(productID any, sku string) map[string]any {
	return map[string]any{
		"productId": productID, "sku": sku, "name": "100 gold", "quantity": "100",
		"digitalCurrency": map[string]any{"name": "Credits", "code": "CRE"},
		"prices": []map[string]any{
			{"countryCode": "ZA", "currencyCode": "ZAR", "amount": "99.99"},
			{"countryCode": "NG", "currencyCode": "NGN", "amount": "1000.00"},
			{"countryCode": "NG", "currencyCode": "USD", "amount": "1234.56789012"},
		},
	}
}

// createCatalog makes a product and one bundle in acme's staging catalog
// and returns their ids as JSON numbers.
func createCatalog(t *testing.T, b bundle, key string) (productID, bundleID float64) {
	t.Helper()
	status, _, body := b.call(t, http.MethodPost, acmeStaging+"/products", key, productJSON())
	require.Equal(t, http.StatusCreated, status, body)
	productID = body["id"].(float64)
	status, _, body = b.call(t, http.MethodPost, acmeStaging+"/bundles", key, bundleJSON(productID, "gold-100"))
	require.Equal(t, http.StatusCreated, status, body)
	return productID, body["id"].(float64)
}

func pricesOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, p := range body["prices"].([]any) {
		p := p.(map[string]any)
		out[p["countryCode"].(string)+"/"+p["currencyCode"].(string)] = p["amount"]
	}
	return out
}

func TestCatalogOperations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	key := b.operatorKey

	// Products.
	resp, _, body := catalogDo(t, b, http.MethodPost, acmeStaging+"/products", key, productJSON())
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	pid := body["id"].(float64)
	productURL := fmt.Sprintf("%s/products/%d", acmeStaging, int64(pid))
	require.Equal(t, productURL, resp.Header.Get("Location"))
	require.Equal(t, "staging", body["environment"])
	require.Equal(t, []any{"ZA", "NG", "KE"}, body["countries"])
	require.Equal(t, "plugin", body["fulfilmentMethod"])

	status, _, body := b.call(t, http.MethodGet, productURL, key, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "Gold coins", body["name"])

	status, _, body = b.call(t, http.MethodGet, acmeStaging+"/products", key, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Len(t, body["items"], 1)
	require.NotContains(t, body, "nextCursor")

	upd := productJSON()
	upd["name"], upd["fulfilmentMethod"] = "Gold", "manual"
	delete(upd, "imageUrl")
	status, _, body = b.call(t, http.MethodPut, productURL, key, upd)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "Gold", body["name"])
	require.Equal(t, "manual", body["fulfilmentMethod"])
	require.NotContains(t, body, "imageUrl", "PUT replaces: an omitted optional field is cleared")

	// Bundles.
	create := bundleJSON(pid, "gold-100")
	create["pay1stProductBundleId"] = 4711
	resp, raw, body := catalogDo(t, b, http.MethodPost, acmeStaging+"/bundles", key, create)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	bid := body["id"].(float64)
	bundleURL := fmt.Sprintf("%s/bundles/%d", acmeStaging, int64(bid))
	require.Equal(t, bundleURL, resp.Header.Get("Location"))
	require.Contains(t, string(raw), `"amount":"1234.56789012"`, "amounts are JSON strings")
	require.Contains(t, string(raw), `"quantity":"100"`)

	status, _, body = b.call(t, http.MethodGet, bundleURL, key, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, map[string]any{"ZA/ZAR": "99.99", "NG/NGN": "1000.00", "NG/USD": "1234.56789012"}, pricesOf(t, body),
		"amounts round-trip exactly")
	require.Equal(t, map[string]any{"name": "Credits", "code": "CRE"}, body["digitalCurrency"])
	require.EqualValues(t, 4711, body["pay1stProductBundleId"])
	require.Equal(t, pid, body["productId"])

	// A second product and bundle, to see the filters work.
	_, _, other := b.call(t, http.MethodPost, acmeStaging+"/products", key, productJSON())
	status, _, _ = b.call(t, http.MethodPost, acmeStaging+"/bundles", key, bundleJSON(other["id"], "silver-50"))
	require.Equal(t, http.StatusCreated, status)
	for query, want := range map[string][]string{
		"":                                       {"gold-100", "silver-50"},
		"?sku=silver-50":                         {"silver-50"},
		fmt.Sprintf("?productId=%d", int64(pid)): {"gold-100"},
		"?sku=nope":                              {},
	} {
		status, _, body = b.call(t, http.MethodGet, acmeStaging+"/bundles"+query, key, nil)
		require.Equal(t, http.StatusOK, status, body)
		got := []string{}
		for _, it := range body["items"].([]any) {
			got = append(got, it.(map[string]any)["sku"].(string))
		}
		require.Equal(t, want, got, query)
	}

	put := bundleJSON(pid, "gold-110")
	put["quantity"] = "110.50"
	put["prices"] = []map[string]any{{"countryCode": "KE", "currencyCode": "KES", "amount": "150"}}
	status, _, body = b.call(t, http.MethodPut, bundleURL, key, put)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "gold-110", body["sku"])
	require.Equal(t, "110.50", body["quantity"])
	require.NotContains(t, body, "pay1stProductBundleId", "PUT replaces every field")
	require.Equal(t, map[string]any{"KE/KES": "150"}, pricesOf(t, body))

	resp, raw, _ = catalogDo(t, b, http.MethodDelete, bundleURL, key, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(raw))
	require.Empty(t, raw)
	status, _, _ = b.call(t, http.MethodGet, bundleURL, key, nil)
	require.Equal(t, http.StatusNotFound, status)
	resp, _, _ = catalogDo(t, b, http.MethodDelete, productURL, key, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	status, _, _ = b.call(t, http.MethodGet, productURL, key, nil)
	require.Equal(t, http.StatusNotFound, status)

	// Production is another catalog.
	status, _, body = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/production/bundles", key, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Empty(t, body["items"])
}

// TestCatalogBadInput: every refusal is an RFC 9457 problem naming the field.
func TestCatalogBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	pid, _ := createCatalog(t, b, b.operatorKey)

	product := func(edit func(m map[string]any)) map[string]any {
		m := productJSON()
		edit(m)
		return m
	}
	bundleWith := func(edit func(m map[string]any)) map[string]any {
		m := bundleJSON(pid, "gold-200")
		edit(m)
		return m
	}
	price := func(country, currency string, amount any) func(m map[string]any) {
		return func(m map[string]any) {
			m["prices"] = []map[string]any{{"countryCode": country, "currencyCode": currency, "amount": amount}}
		}
	}
	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		status   int
		location string // the problem's errors[0].location; "" for none
		detail   string // a part of the detail
	}{
		{"unknown country", http.MethodPost, "/products", product(func(m map[string]any) { m["countries"] = []string{"ZA", "XX"} }), 422, "body.countries[1]", ""},
		{"UK is not a code", http.MethodPost, "/products", product(func(m map[string]any) { m["countries"] = []string{"UK"} }), 422, "body.countries[0]", ""},
		{"no countries", http.MethodPost, "/products", product(func(m map[string]any) { m["countries"] = []string{} }), 422, "body.countries", ""},
		{"bad fulfilment", http.MethodPost, "/products", product(func(m map[string]any) { m["fulfilmentMethod"] = "email" }), 422, "body.fulfilmentMethod", ""},
		{"relative image", http.MethodPost, "/products", product(func(m map[string]any) { m["imageUrl"] = "gold.png" }), 422, "body.imageUrl", ""},
		{"missing name", http.MethodPost, "/products", product(func(m map[string]any) { delete(m, "name") }), 422, "body", ""},
		{"unknown currency", http.MethodPost, "/bundles", bundleWith(price("ZA", "ABC", "10.00")), 422, "body.prices[0].currencyCode", ""},
		{"XXX currency", http.MethodPost, "/bundles", bundleWith(price("ZA", "XXX", "10.00")), 422, "body.prices[0].currencyCode", ""},
		{"unknown price country", http.MethodPost, "/bundles", bundleWith(price("XX", "ZAR", "10.00")), 422, "body.prices[0].countryCode", ""},
		{"country not enabled", http.MethodPost, "/bundles", bundleWith(price("GH", "GHS", "10.00")), 422, "body.prices[0].countryCode", ""},
		{"negative price", http.MethodPost, "/bundles", bundleWith(price("ZA", "ZAR", "-10.00")), 422, "body.prices[0].amount", ""},
		{"garbage price", http.MethodPost, "/bundles", bundleWith(price("ZA", "ZAR", "ten")), 422, "body.prices[0].amount", ""},
		{"zero price", http.MethodPost, "/bundles", bundleWith(price("ZA", "ZAR", "0.00")), 422, "body.prices[0].amount", ""},
		{"float price", http.MethodPost, "/bundles", bundleWith(price("ZA", "ZAR", 10.5)), 422, "body.prices[0].amount", ""},
		{"9 decimals", http.MethodPost, "/bundles", bundleWith(price("ZA", "ZAR", "1.123456789")), 422, "body.prices[0].amount", ""},
		{"no prices", http.MethodPost, "/bundles", bundleWith(func(m map[string]any) { m["prices"] = []any{} }), 422, "body.prices", ""},
		{"zero quantity", http.MethodPost, "/bundles", bundleWith(func(m map[string]any) { m["quantity"] = "0" }), 422, "body.quantity", ""},
		{"bad sku", http.MethodPost, "/bundles", bundleWith(func(m map[string]any) { m["sku"] = "gold 200" }), 422, "body.sku", ""},
		{"unknown product", http.MethodPost, "/bundles", bundleWith(func(m map[string]any) { m["productId"] = 999999 }), 422, "body.productId", ""},
		{"duplicate price", http.MethodPost, "/bundles", bundleWith(func(m map[string]any) {
			m["prices"] = []map[string]any{{"countryCode": "ZA", "currencyCode": "ZAR", "amount": "1"}, {"countryCode": "ZA", "currencyCode": "ZAR", "amount": "2"}}
		}), 422, "body.prices[1]", ""},
		{"duplicate sku", http.MethodPost, "/bundles", bundleWith(func(m map[string]any) { m["sku"] = "gold-100" }), 409, "", "sku"},
		{"bad cursor", http.MethodGet, "/bundles?cursor=bogus!", nil, 422, "query.cursor", ""},
		{"unknown environment", http.MethodGet, "/../sandbox/products", nil, 404, "", ""},
		{"unknown product id", http.MethodGet, "/products/999999", nil, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := acmeStaging + tt.path
			if strings.HasPrefix(tt.path, "/../") {
				path = "/v1/tenants/acme/environments/" + strings.TrimPrefix(tt.path, "/../")
			}
			status, ctype, body := b.call(t, tt.method, path, b.operatorKey, tt.body)
			require.Equal(t, tt.status, status, body)
			require.Equal(t, "application/problem+json", ctype)
			require.EqualValues(t, tt.status, body["status"])
			if tt.location != "" {
				errs, _ := body["errors"].([]any)
				require.NotEmpty(t, errs, body)
				require.Equal(t, tt.location, errs[0].(map[string]any)["location"], body)
			}
			require.Contains(t, body["detail"], tt.detail)
		})
	}
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM products) + (SELECT count(*) FROM bundles)`).Scan(&n))
	require.Equal(t, 2, n, "bad input created nothing")
}

// TestCatalogIsolation tries every catalog operation with another tenant's
// keys (not found, never data) and with the tenant's own viewer key (reads
// only).
func TestCatalogIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.createTenant(t, "acme", 1)
	b.createTenant(t, "rival", 2)
	pid, bid := createCatalog(t, b, b.operatorKey)
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	rival, err := b.tenants.Get(ctx, "rival")
	require.NoError(t, err)
	acmeViewer, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleViewer, "viewer")
	require.NoError(t, err)
	acmeAdmin, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleAdmin, "admin")
	require.NoError(t, err)

	productURL := fmt.Sprintf("%s/products/%d", acmeStaging, int64(pid))
	bundleURL := fmt.Sprintf("%s/bundles/%d", acmeStaging, int64(bid))
	ops := []struct {
		method, path string
		body         any
		write        bool
	}{
		{http.MethodGet, acmeStaging + "/products", nil, false},
		{http.MethodGet, productURL, nil, false},
		{http.MethodGet, acmeStaging + "/bundles", nil, false},
		{http.MethodGet, bundleURL, nil, false},
		{http.MethodPost, acmeStaging + "/products", productJSON(), true},
		{http.MethodPut, productURL, productJSON(), true},
		{http.MethodDelete, productURL, nil, true},
		{http.MethodPost, acmeStaging + "/bundles", bundleJSON(pid, "gold-new"), true},
		{http.MethodPut, bundleURL, bundleJSON(pid, "gold-100"), true},
		{http.MethodDelete, bundleURL, nil, true},
	}
	for _, role := range []string{tenant.RoleAdmin, tenant.RoleViewer} {
		rivalKey, err := b.tenants.CreateTenantKey(ctx, rival, role, "rival "+role)
		require.NoError(t, err)
		for _, op := range ops {
			resp, raw, _ := catalogDo(t, b, op.method, op.path, rivalKey, op.body)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s with rival's %s key: %s", op.method, op.path, role, raw)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			require.NotContains(t, string(raw), "gold", "never data")
		}
	}
	for _, op := range ops {
		resp, raw, _ := catalogDo(t, b, op.method, op.path, acmeViewer, op.body)
		want := http.StatusOK
		if op.write {
			want = http.StatusForbidden
		}
		require.Equal(t, want, resp.StatusCode, "%s %s with a viewer key: %s", op.method, op.path, raw)
	}
	// Nothing changed: the refused writes left the catalog as it was.
	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM products) + (SELECT count(*) FROM bundles)`).Scan(&n))
	require.Equal(t, 2, n)

	// The tenant's admin key writes its own catalog.
	status, _, body := b.call(t, http.MethodPost, acmeStaging+"/bundles", acmeAdmin, bundleJSON(pid, "gold-admin"))
	require.Equal(t, http.StatusCreated, status, body)
}

func TestCatalogDeleteInUse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.createTenant(t, "acme", 1)
	pid, bid := createCatalog(t, b, b.operatorKey)
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `
		WITH p AS (
			INSERT INTO payments (tenant_id, environment, reference, partner_reference, status, amount, currency_code,
				country_code, customer_id, payment_method, status_updated_at, created_date)
			VALUES ($1, 'staging', 'C1st_d6213ccf', 'order-1', 'SUCCESSFUL', 99.99, 'ZAR', 'ZA', 1, 'CARD', now(), now())
			RETURNING id)
		INSERT INTO payment_items (payment_id, tenant_id, environment, bundle_id, quantity)
		SELECT id, $1, 'staging', $2, 1 FROM p`, acme.ID, int64(bid))
	require.NoError(t, err)

	bundleURL := fmt.Sprintf("%s/bundles/%d", acmeStaging, int64(bid))
	status, ctype, body := b.call(t, http.MethodDelete, bundleURL, b.operatorKey, nil)
	require.Equal(t, http.StatusConflict, status, body)
	require.Equal(t, "application/problem+json", ctype)
	require.Contains(t, body["detail"], "C1st_d6213ccf", "the problem names the payments")

	status, _, body = b.call(t, http.MethodDelete, fmt.Sprintf("%s/products/%d", acmeStaging, int64(pid)), b.operatorKey, nil)
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body["detail"], "gold-100", "the problem names the bundles")

	status, _, body = b.call(t, http.MethodGet, bundleURL, b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, "nothing was deleted")
	require.Len(t, body["prices"], 3)
	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM bundle_prices`).Scan(&n))
	require.Equal(t, 3, n)
}

func TestCatalogPagesHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	want := map[float64]bool{}
	for range 5 {
		status, _, body := b.call(t, http.MethodPost, acmeStaging+"/products", b.operatorKey, productJSON())
		require.Equal(t, http.StatusCreated, status, body)
		want[body["id"].(float64)] = true
	}
	got := map[float64]bool{}
	path, pages := acmeStaging+"/products?limit=2", 0
	for path != "" {
		resp, raw, body := catalogDo(t, b, http.MethodGet, path, b.operatorKey, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
		pages++
		require.Less(t, pages, 5)
		for _, it := range body["items"].([]any) {
			id := it.(map[string]any)["id"].(float64)
			require.False(t, got[id], "each product once")
			got[id] = true
		}
		link := resp.Header.Get("Link")
		if body["nextCursor"] == nil {
			require.Empty(t, link)
			path = ""
			continue
		}
		require.Contains(t, link, `rel="next"`)
		require.Contains(t, link, "cursor="+body["nextCursor"].(string))
		path = strings.TrimPrefix(strings.SplitN(link, ">", 2)[0], "<")
	}
	require.Equal(t, want, got)
	require.Equal(t, 3, pages)

	status, _, _ := b.call(t, http.MethodGet, acmeStaging+"/products?limit=201", b.operatorKey, nil)
	require.Equal(t, http.StatusUnprocessableEntity, status, "page sizes are bounded")
}

// TestCatalogSchema: decimals are strings with the service's pattern in the
// OpenAPI document, and the operations have their stable ids.
func TestCatalogSchema(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Get(b.srv.URL + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc struct {
		Paths      map[string]map[string]struct{ OperationID string } `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Type    any
					Pattern string
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	for _, field := range []struct{ schema, prop string }{{"Price", "amount"}, {"BundleBody", "quantity"}} {
		p := doc.Components.Schemas[field.schema].Properties[field.prop]
		require.Equal(t, "string", p.Type, field)
		require.Equal(t, tenant.DecimalPattern, p.Pattern, field)
	}
	ids := map[string]bool{}
	for _, ops := range doc.Paths {
		for _, op := range ops {
			ids[op.OperationID] = true
		}
	}
	for _, id := range []string{
		"create-product", "list-products", "get-product", "update-product", "delete-product",
		"create-bundle", "list-bundles", "get-bundle", "update-bundle", "delete-bundle",
	} {
		require.True(t, ids[id], id)
	}
}
