package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func TestChecklistAndPromotionOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.createTenant(t, "acme", 1)
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	admin, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleAdmin, "admin")
	require.NoError(t, err)
	viewer, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleViewer, "viewer")
	require.NoError(t, err)

	status, _, c := b.call(t, http.MethodGet, "/v1/tenants/acme/checklist", viewer, nil)
	require.Equal(t, http.StatusOK, status, c)
	require.EqualValues(t, 9, c["total"])
	require.EqualValues(t, 0, c["done"])
	require.Equal(t, "13.5", c["estimatedDaysLeft"])

	status, _, _ = b.call(t, http.MethodPut, "/v1/tenants/acme/checklist/creatives", viewer, map[string]any{"status": "done"})
	require.Equal(t, http.StatusForbidden, status, "viewers read only")
	status, _, c = b.call(t, http.MethodPut, "/v1/tenants/acme/checklist/creatives", admin, map[string]any{"status": "done", "note": "logos sent"})
	require.Equal(t, http.StatusOK, status, c)
	require.EqualValues(t, 1, c["done"])
	status, ctype, p := b.call(t, http.MethodPut, "/v1/tenants/acme/checklist/go-live-party", admin, map[string]any{"status": "done"})
	require.Equal(t, http.StatusNotFound, status, p)
	require.Equal(t, "application/problem+json", ctype)

	status, _, _ = b.call(t, http.MethodGet, "/v1/checklists", admin, nil)
	require.Equal(t, http.StatusForbidden, status, "operators only")
	status, _, list := b.call(t, http.MethodGet, "/v1/checklists", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, list)
	require.Len(t, list["items"], 1)

	status, _, prod := b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/products", admin,
		map[string]any{"name": "Gems", "countries": []string{"NG"}, "fulfilmentMethod": "manual"})
	require.Equal(t, http.StatusCreated, status, prod)
	status, _, bundle := b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/bundles", admin,
		map[string]any{"productId": prod["id"], "sku": "GEMS-100", "name": "100 gems", "quantity": "100",
			"digitalCurrency": map[string]any{"name": "Gems", "code": "GEM"},
			"prices":          []map[string]any{{"countryCode": "NG", "currencyCode": "NGN", "amount": "1500.00"}}})
	require.Equal(t, http.StatusCreated, status, bundle)

	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/promotions", viewer, map[string]any{"dryRun": true})
	require.Equal(t, http.StatusForbidden, status)
	status, _, dry := b.call(t, http.MethodPost, "/v1/tenants/acme/promotions", admin, map[string]any{"dryRun": true})
	require.Equal(t, http.StatusOK, status, dry)
	require.Equal(t, false, dry["applied"])
	require.Len(t, dry["changes"], 2)
	status, _, done := b.call(t, http.MethodPost, "/v1/tenants/acme/promotions", admin, map[string]any{"dryRun": false})
	require.Equal(t, http.StatusOK, status, done)
	require.Equal(t, true, done["applied"])
	status, _, again := b.call(t, http.MethodPost, "/v1/tenants/acme/promotions", admin, map[string]any{"dryRun": false})
	require.Equal(t, http.StatusOK, status, again)
	require.Equal(t, false, again["applied"])
	require.Empty(t, again["changes"])

	status, _, c = b.call(t, http.MethodGet, "/v1/tenants/acme/checklist", admin, nil)
	require.Equal(t, http.StatusOK, status)
	auto := map[string]bool{}
	for _, s := range c["steps"].([]any) {
		step := s.(map[string]any)
		auto[step["key"].(string)] = step["automatic"].(bool)
	}
	require.True(t, auto["catalog"])
	require.True(t, auto["fulfilment_method"], "manual fulfilment needs no plugin")
	require.True(t, auto["replicate_production"])
	require.False(t, auto["staging_test"])

	status, _, audit := b.call(t, http.MethodGet, "/v1/tenants/acme/audit-log", admin, nil)
	require.Equal(t, http.StatusOK, status)
	actions := map[string]bool{}
	for _, e := range audit["items"].([]any) {
		actions[e.(map[string]any)["action"].(string)] = true
	}
	require.True(t, actions["promotion.apply"])
	require.True(t, actions["checklist.set"])
}
