package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/tenant"
)

// isolationBodies are valid request bodies for every tenant-scoped operation
// that takes one, so the request passes validation and reaches the tenant
// check. A new operation without an entry fails the test: add one.
func isolationBodies(productID, pluginID int64) map[string]any {
	product := map[string]any{"name": "Stolen", "countries": []string{"ZA"}, "fulfilmentMethod": "plugin"}
	bundle := map[string]any{"productId": productID, "sku": "stolen-1", "name": "Stolen", "quantity": "1",
		"digitalCurrency": map[string]any{"name": "Gold", "code": "GLD"},
		"prices":          []map[string]any{{"countryCode": "ZA", "currencyCode": "ZAR", "amount": "1.00"}}}
	return map[string]any{
		"update-tenant":               map[string]any{"name": "Hijacked"},
		"create-api-key":              map[string]any{"name": "stolen", "role": "admin"},
		"set-checklist-step":          map[string]any{"status": "done"},
		"update-environment":          map[string]any{"callbackSuccessUrl": "https://evil.example.com/"},
		"set-environment-credentials": map[string]any{"apiKey": "stolen"},
		"create-product":              product,
		"update-product":              product,
		"create-bundle":               bundle,
		"update-bundle":               bundle,
		"create-promotion":            map[string]any{"dryRun": false},
		"release-payment-hold":        map[string]any{"note": "stolen"},
		"upload-plugin":               "not an executable",
		"activate-plugin":             map[string]any{"pluginId": pluginID},
		"set-plugin-settings":         map[string]any{"settings": map[string]string{"endpoint": "https://evil.example.com/"}},
		"retry-fulfilments":           map[string]any{"max": 10},
		"create-order": map[string]any{"partnerReference": "stolen-1", "customer": map[string]any{"id": 1},
			"products": []map[string]any{{"sku": "bravo-1", "quantity": 1}}, "countryCode": "ZA"},
		"create-test-transaction": map[string]any{"partnerReference": "stolen-test-1", "sku": "bravo-1", "playerId": 1},
	}
}

// TestTenantIsolation tries every tenant-scoped operation of the OpenAPI
// document with another tenant's admin key, against that tenant's real
// resources (a failed fulfilment, an active plugin with settings...): every
// one must be "not found" for the tenant check, not for a missing resource,
// and nothing may change.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	pb := setupPlugins(t, 1<<20)
	b := pb.bundle
	ctx := context.Background()
	b.createTenant(t, "alpha", 1)
	b.createTenant(t, "bravo", 2)
	alpha, err := b.tenants.Get(ctx, "alpha")
	require.NoError(t, err)
	attackerKey, err := b.tenants.CreateTenantKey(ctx, alpha, tenant.RoleAdmin, "attacker")
	require.NoError(t, err)

	// bravo's real resources, so ids exist and only the tenant check stands.
	status, _, product := b.call(t, http.MethodPost, "/v1/tenants/bravo/environments/staging/products", b.operatorKey,
		map[string]any{"name": "Bravo gems", "countries": []string{"ZA"}, "fulfilmentMethod": "plugin"})
	require.Equal(t, http.StatusCreated, status, product)
	productID := int64(product["id"].(float64))
	status, _, bundle := b.call(t, http.MethodPost, "/v1/tenants/bravo/environments/staging/bundles", b.operatorKey,
		map[string]any{"productId": productID, "sku": "bravo-1", "name": "Bravo 1", "quantity": "10",
			"digitalCurrency": map[string]any{"name": "Gems", "code": "GEM"},
			"prices":          []map[string]any{{"countryCode": "ZA", "currencyCode": "ZAR", "amount": "9.99"}}})
	require.Equal(t, http.StatusCreated, status, bundle)
	status, _, key := b.call(t, http.MethodPost, "/v1/tenants/bravo/api-keys", b.operatorKey, map[string]any{"name": "bravo", "role": "admin"})
	require.Equal(t, http.StatusCreated, status, key)
	fulfilmentID := failFulfilment(t, b, "bravo", "C-BRAVO-P")
	pluginID := bravoPlugin(t, pb)
	params := map[string]string{
		"partnerCode": "bravo", "env": "staging", "productId": strconv.FormatInt(productID, 10),
		"bundleId": strconv.FormatFloat(bundle["id"].(float64), 'f', 0, 64), "prefix": key["prefix"].(string), "step": "creatives",
		"deliveryId":   strconv.FormatInt(bravoDelivery(t, b), 10),
		"reference":    "C-BRAVO-P",
		"pluginId":     strconv.FormatInt(pluginID, 10),
		"fulfilmentId": strconv.FormatInt(fulfilmentID, 10),
		// bravo's order: its row exists, so only the tenant check answers 404.
		"partnerReference": bravoOrder(t, b),
	}
	// Each exists, seen with bravo's own rights: the attacker's 404 can only
	// come from the tenant check.
	for _, path := range []string{"/environments/staging/payments/C-BRAVO-P", "/plugins/" + params["pluginId"], "/environments/staging/plugin"} {
		status, _, out := b.call(t, http.MethodGet, "/v1/tenants/bravo"+path, key["key"].(string), nil)
		require.Equal(t, http.StatusOK, status, "%s: %v", path, out)
	}
	status, _, failed := b.call(t, http.MethodGet, "/v1/tenants/bravo/fulfilments?state=failed", key["key"].(string), nil)
	require.Equal(t, http.StatusOK, status, failed)
	require.Len(t, failed["items"], 1)
	require.EqualValues(t, fulfilmentID, failed["items"].([]any)[0].(map[string]any)["id"])
	before := snapshot(t, b, "bravo")

	resp, err := http.Get(b.srv.URL + "/openapi.json")
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody any    `json:"requestBody"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))

	bodies := isolationBodies(productID, pluginID)
	placeholder := regexp.MustCompile(`\{([A-Za-z]+)\}`)
	var tried []string
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/tenants/{partnerCode}") {
			continue
		}
		for method, op := range ops {
			var missing string
			url := placeholder.ReplaceAllStringFunc(path, func(m string) string {
				name := m[1 : len(m)-1]
				v, ok := params[name]
				if !ok {
					missing = name
				}
				return v
			})
			require.Empty(t, missing, "%s: add a value for path parameter %q", op.OperationID, missing)
			var body any
			if op.RequestBody != nil {
				var ok bool
				body, ok = bodies[op.OperationID]
				require.True(t, ok, "%s takes a body: add one to isolationBodies", op.OperationID)
			}
			status, ctype, out := b.call(t, strings.ToUpper(method), url, attackerKey, body)
			require.Equal(t, http.StatusNotFound, status, "%s %s with another tenant's key: %v", method, url, out)
			require.Equal(t, "application/problem+json", ctype)
			blob, _ := json.Marshal(out)
			require.NotContains(t, string(blob), "Bravo", "%s leaked data", op.OperationID)
			tried = append(tried, op.OperationID)
		}
	}
	sort.Strings(tried)
	require.GreaterOrEqual(t, len(tried), 25, "every tenant-scoped operation is tried: %v", tried)
	require.Equal(t, before, snapshot(t, b, "bravo"), "nothing of bravo's changed")
}

// snapshot is what bravo has, as an operator sees it.
func snapshot(t *testing.T, b bundle, code string) string {
	t.Helper()
	var all bytes.Buffer
	for _, path := range []string{"", "/environments", "/environments/staging/products", "/environments/staging/bundles",
		"/api-keys", "/checklist", "/fulfilments", "/plugins", "/environments/staging/plugin", "/environments/staging/payments/C-BRAVO-P",
		"/environments/staging/orders"} {
		status, _, out := b.call(t, http.MethodGet, "/v1/tenants/"+code+path, b.operatorKey, nil)
		require.Equal(t, http.StatusOK, status, path)
		delete(out, "lastUsedAt")
		blob, err := json.Marshal(out)
		require.NoError(t, err)
		all.Write(blob)
	}
	return all.String()
}

// bravoDelivery records a (rejected) delivery for bravo and returns its id.
func bravoDelivery(t *testing.T, b bundle) int64 {
	t.Helper()
	body := eventBody(t, "bravo", 2, "C-BRAVO-P", nil)
	st, _, out := b.post(t, "/pay1st/staging/bravo/payment-events", body, signedHeaders("wrong", body, time.Now()))
	require.Equal(t, http.StatusUnauthorized, st)
	var id int64
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT id FROM deliveries WHERE session_id = $1`, out["sessionId"]).Scan(&id))
	return id
}

// bravoPlugin registers a plugin for bravo with staging settings and makes
// it staging's active plugin; it returns its id.
func bravoPlugin(t *testing.T, b pluginBundle) int64 {
	t.Helper()
	ctx := context.Background()
	bravo, err := b.tenants.Get(ctx, "bravo")
	require.NoError(t, err)
	pl, err := b.registry.Register(ctx, plugins.RegisterParams{
		TenantID: bravo.ID, Name: "bravo", Version: "1", OS: "linux", Arch: "amd64", Binary: []byte("\x7fELF bravo"),
	})
	require.NoError(t, err)
	_, err = b.registry.SetSettings(ctx, nil, plugins.SettingsParams{TenantID: bravo.ID, PartnerCode: "bravo", Env: tenant.Staging,
		Settings: map[string]string{"endpoint": "https://bravo.example.com/"}})
	require.NoError(t, err)
	require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		return b.tenants.SetActivePluginTx(ctx, tx, bravo, tenant.Staging, pl.ID)
	}))
	return pl.ID
}
