package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func TestTenantAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)

	status, _, created := b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys", b.operatorKey,
		map[string]any{"name": "acme admin", "role": "admin"})
	require.Equal(t, http.StatusCreated, status, created)
	admin, _ := created["key"].(string)
	require.True(t, tenant.ValidKeyFormat(admin), "the raw key is returned on creation")
	prefix := created["prefix"].(string)
	require.Equal(t, "phk_"+prefix+"_", admin[:13])
	require.Equal(t, "tenant", created["scope"])
	require.Equal(t, "acme", created["partnerCode"])
	require.NotContains(t, created, "lastUsedAt")
	require.NotContains(t, created, "revokedAt")

	// The new admin key works, and issues a viewer key.
	status, _, created = b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys", admin, map[string]any{"name": "dashboard", "role": "viewer"})
	require.Equal(t, http.StatusCreated, status, created)
	viewer := created["key"].(string)
	viewerPrefix := created["prefix"].(string)

	// Viewers read, never write.
	status, _, _ = b.call(t, http.MethodGet, "/v1/tenants/acme/api-keys", viewer, nil)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys", viewer, map[string]any{"name": "x", "role": "admin"})
	require.Equal(t, http.StatusForbidden, status)
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys/"+prefix+"/revoke", viewer, nil)
	require.Equal(t, http.StatusForbidden, status)

	// The list shows metadata, never a secret; last use is recorded.
	items := b.walkPages(t, "/v1/tenants/acme/api-keys", admin, tenant.DefaultPageSize)
	require.Len(t, items, 2)
	raw, err := json.Marshal(items)
	require.NoError(t, err)
	require.NotContains(t, string(raw), admin[13:])
	require.NotContains(t, string(raw), viewer[13:])
	for _, it := range items {
		require.NotContains(t, it, "key")
		require.NotContains(t, it, "secretHash")
		require.Contains(t, it, "createdAt")
	}
	require.Equal(t, []string{prefix, viewerPrefix}, field(items, "prefix"))
	require.Equal(t, []string{"admin", "viewer"}, field(items, "role"))
	used, err := time.Parse(time.RFC3339Nano, items[0]["lastUsedAt"].(string))
	require.NoError(t, err, "the admin key has been used")
	require.WithinDuration(t, time.Now(), used, time.Minute)

	// Revoke: 200 with the key; again: 200, same revocation time.
	status, _, first := b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys/"+viewerPrefix+"/revoke", admin, nil)
	require.Equal(t, http.StatusOK, status, first)
	require.NotEmpty(t, first["revokedAt"])
	require.NotContains(t, first, "key")
	status, _, again := b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys/"+viewerPrefix+"/revoke", admin, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, first["revokedAt"], again["revokedAt"])
	status, _, _ = b.call(t, http.MethodGet, "/v1/tenants/acme", viewer, nil)
	require.Equal(t, http.StatusUnauthorized, status, "a revoked key stops working at once")

	// A key may revoke itself.
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys/"+prefix+"/revoke", admin, nil)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = b.call(t, http.MethodGet, "/v1/tenants/acme/api-keys", admin, nil)
	require.Equal(t, http.StatusUnauthorized, status)

	for _, tc := range []struct {
		path   string
		body   any
		status int
	}{
		{"/v1/tenants/acme/api-keys", map[string]any{"name": "x", "role": "owner"}, 422},
		{"/v1/tenants/acme/api-keys", map[string]any{"name": "", "role": "admin"}, 422},
		{"/v1/tenants/acme/api-keys", map[string]any{"name": "   ", "role": "admin"}, 422},
		{"/v1/tenants/acme/api-keys", map[string]any{"role": "admin"}, 422},
		{"/v1/tenants/nobody/api-keys", map[string]any{"name": "x", "role": "admin"}, 404},
		{"/v1/tenants/acme/api-keys/zzzzzzzz/revoke", nil, 404},
		{"/v1/tenants/acme/api-keys/NOTAKEY!/revoke", nil, 422},
	} {
		status, ctype, body := b.call(t, http.MethodPost, tc.path, b.operatorKey, tc.body)
		require.Equal(t, tc.status, status, "%s %v: %v", tc.path, tc.body, body)
		require.Equal(t, "application/problem+json", ctype)
	}
}

func TestOperatorAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	tenantAdmin := b.tenantKey(t, "acme", tenant.RoleAdmin)
	bootstrap := b.operatorKey[4:12]

	for _, op := range []struct{ method, path string }{
		{http.MethodGet, "/v1/api-keys"},
		{http.MethodPost, "/v1/api-keys"},
		{http.MethodPost, "/v1/api-keys/" + bootstrap + "/revoke"},
	} {
		status, _, _ := b.call(t, op.method, op.path, tenantAdmin, map[string]any{"name": "x"})
		require.Equal(t, http.StatusForbidden, status, "tenant keys: %s %s", op.method, op.path)
	}

	// The last live operator key cannot be revoked.
	status, ctype, body := b.call(t, http.MethodPost, "/v1/api-keys/"+bootstrap+"/revoke", b.operatorKey, nil)
	require.Equal(t, http.StatusConflict, status, body)
	require.Equal(t, "application/problem+json", ctype)
	require.Contains(t, body["detail"], "last live operator key")

	status, _, created := b.call(t, http.MethodPost, "/v1/api-keys", b.operatorKey, map[string]any{"name": "second"})
	require.Equal(t, http.StatusCreated, status, created)
	second := created["key"].(string)
	require.Equal(t, "operator", created["scope"])
	require.Equal(t, "admin", created["role"])
	require.NotContains(t, created, "partnerCode")

	// The second key revokes the bootstrap key; the tenant key's prefix is
	// not an operator key.
	status, _, _ = b.call(t, http.MethodPost, "/v1/api-keys/"+tenantAdmin[4:12]+"/revoke", second, nil)
	require.Equal(t, http.StatusNotFound, status)
	status, _, body = b.call(t, http.MethodPost, "/v1/api-keys/"+bootstrap+"/revoke", second, nil)
	require.Equal(t, http.StatusOK, status, body)
	status, _, _ = b.call(t, http.MethodGet, "/v1/api-keys", b.operatorKey, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _, body = b.call(t, http.MethodPost, "/v1/api-keys/"+created["prefix"].(string)+"/revoke", second, nil)
	require.Equal(t, http.StatusConflict, status, "now second is the last: %v", body)

	items := b.walkPages(t, "/v1/api-keys", second, tenant.DefaultPageSize)
	require.Equal(t, []string{bootstrap, created["prefix"].(string)}, field(items, "prefix"), "revoked keys stay listed")
	require.NotEmpty(t, items[0]["revokedAt"])
	require.NotContains(t, items[1], "revokedAt")
}

func TestAPIKeyPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	b.createTenant(t, "rival", 2)
	acme, err := b.tenants.Get(context.Background(), "acme")
	require.NoError(t, err)
	var want []string
	for i := range 7 {
		c, err := b.tenants.CreateKey(context.Background(), tenant.NewKeyParams{
			Scope: tenant.ScopeTenant, TenantID: acme.ID, Role: tenant.RoleViewer, Name: fmt.Sprint("k", i)})
		require.NoError(t, err)
		want = append(want, c.Prefix)
	}
	b.tenantKey(t, "rival", tenant.RoleAdmin)
	require.Equal(t, want, field(b.walkPages(t, "/v1/tenants/acme/api-keys?limit=3", b.operatorKey, 3), "prefix"))
	require.Equal(t, want, field(b.walkPages(t, "/v1/tenants/acme/api-keys?limit=1", b.operatorKey, 1), "prefix"))
}
