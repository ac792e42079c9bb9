package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

// TestAuditLogRecordsEveryWrite makes every write this API offers on tenants
// and keys, then finds each in the audit log with its actor, and no secret
// anywhere in the log, its responses or the server's log lines.
func TestAuditLogRecordsEveryWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	op := b.operatorKey[4:12]
	signingKey := b.createTenant(t, "acme", 1)
	b.createTenant(t, "rival", 2)

	status, _, body := b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys", b.operatorKey, map[string]any{"name": "admin", "role": "admin"})
	require.Equal(t, http.StatusCreated, status)
	admin, adminPrefix := body["key"].(string), body["prefix"].(string)
	status, _, body = b.call(t, http.MethodPatch, "/v1/tenants/acme", admin, map[string]any{"contactEmail": "ada@acme.example"})
	require.Equal(t, http.StatusOK, status, body)
	status, _, body = b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys", admin, map[string]any{"name": "view", "role": "viewer"})
	require.Equal(t, http.StatusCreated, status)
	viewer, viewerPrefix := body["key"].(string), body["prefix"].(string)
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys/"+viewerPrefix+"/revoke", admin, nil)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/suspend", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/resume", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)
	status, _, body = b.call(t, http.MethodPost, "/v1/api-keys", b.operatorKey, map[string]any{"name": "second"})
	require.Equal(t, http.StatusCreated, status)
	second, secondPrefix := body["key"].(string), body["prefix"].(string)
	status, _, _ = b.call(t, http.MethodPost, "/v1/api-keys/"+secondPrefix+"/revoke", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)

	type row struct{ scope, key, partner, action, target string }
	got := func(items []map[string]any) []row {
		out := make([]row, 0, len(items))
		for _, it := range items {
			actor := it["actor"].(map[string]any)
			prefix, _ := actor["keyPrefix"].(string)
			partner, _ := it["partnerCode"].(string)
			out = append(out, row{actor["scope"].(string), prefix, partner, it["action"].(string), it["target"].(string)})
		}
		return out
	}
	all := b.walkPages(t, "/v1/audit-log?limit=2", b.operatorKey, 2)
	require.Equal(t, []row{ // newest first
		{"operator", op, "", "api_key.revoke", "api_key:" + secondPrefix},
		{"operator", op, "", "api_key.create", "api_key:" + secondPrefix},
		{"operator", op, "acme", "tenant.resume", "tenant:acme"},
		{"operator", op, "acme", "tenant.suspend", "tenant:acme"},
		{"tenant", adminPrefix, "acme", "api_key.revoke", "api_key:" + viewerPrefix},
		{"tenant", adminPrefix, "acme", "api_key.create", "api_key:" + viewerPrefix},
		{"tenant", adminPrefix, "acme", "tenant.update", "tenant:acme"},
		{"operator", op, "acme", "api_key.create", "api_key:" + adminPrefix},
		{"operator", op, "rival", "tenant.create", "tenant:rival"},
		{"operator", op, "acme", "tenant.create", "tenant:acme"},
		{"system", "", "", "api_key.create", "api_key:" + op}, // the bootstrap key, from configuration
	}, got(all))
	require.Equal(t, map[string]any{"contactEmail": map[string]any{"from": "", "to": "ada@acme.example"}}, all[6]["details"].(map[string]any)["changes"])

	// A tenant reads its own entries, operators' included; never another's.
	mine := b.walkPages(t, "/v1/tenants/acme/audit-log?limit=3", admin, 3)
	require.Len(t, mine, 7)
	for _, it := range mine {
		require.Equal(t, "acme", it["partnerCode"])
	}
	filtered := b.walkPages(t, "/v1/audit-log?partnerCode=rival&limit=1", b.operatorKey, 1)
	require.Equal(t, []row{{"operator", op, "rival", "tenant.create", "tenant:rival"}}, got(filtered))
	status, _, _ = b.call(t, http.MethodGet, "/v1/audit-log?partnerCode=nobody", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = b.call(t, http.MethodGet, "/v1/audit-log", admin, nil)
	require.Equal(t, http.StatusForbidden, status, "the whole log is the operators'")

	// No secret anywhere: log entries, log lines.
	raw, err := json.Marshal(all)
	require.NoError(t, err)
	for _, secret := range []string{signingKey, b.operatorKey, admin, viewer, second} {
		require.NotContains(t, string(raw), secret)
		require.NotContains(t, b.logs.String(), secret)
	}
}

// TestLifecycleIsolation tries each tenant-scoped operation of tenants, keys
// and the audit log with another tenant's keys: all are 404, nothing leaks,
// nothing changes.
func TestLifecycleIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	b.createTenant(t, "rival", 2)
	rivalKey := b.tenantKey(t, "rival", tenant.RoleViewer)
	rivalPrefix := rivalKey[4:12]
	before := b.count(t, `SELECT count(*) FROM audit_log`)

	ops := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/v1/tenants/rival", nil},
		{http.MethodPatch, "/v1/tenants/rival", map[string]any{"name": "Mine now"}},
		{http.MethodPost, "/v1/tenants/rival/suspend", nil},
		{http.MethodPost, "/v1/tenants/rival/resume", nil},
		{http.MethodGet, "/v1/tenants/rival/api-keys", nil},
		{http.MethodPost, "/v1/tenants/rival/api-keys", map[string]any{"name": "x", "role": "admin"}},
		{http.MethodPost, "/v1/tenants/rival/api-keys/" + rivalPrefix + "/revoke", nil},
		{http.MethodGet, "/v1/tenants/rival/audit-log", nil},
	}
	for _, role := range []string{tenant.RoleAdmin, tenant.RoleViewer} {
		key := b.tenantKey(t, "acme", role)
		for _, op := range ops {
			status, ctype, body := b.call(t, op.method, op.path, key, op.body)
			require.Equal(t, http.StatusNotFound, status, "%s key: %s %s", role, op.method, op.path)
			require.Equal(t, "application/problem+json", ctype)
			require.NotContains(t, fmt.Sprint(body), "rival", "never data")
		}
		// Through its own tenant's path, acme's key cannot reach rival's key.
		status, _, _ := b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys/"+rivalPrefix+"/revoke", key, nil)
		if role == tenant.RoleAdmin {
			require.Equal(t, http.StatusNotFound, status)
		} else {
			require.Equal(t, http.StatusForbidden, status)
		}
	}
	status, _, body := b.call(t, http.MethodGet, "/v1/tenants/rival", rivalKey, nil)
	require.Equal(t, http.StatusOK, status, "rival's key still works: %v", body)
	require.Equal(t, "Studio rival", body["name"])
	require.Equal(t, "active", body["status"])
	require.Equal(t, before+2, b.count(t, `SELECT count(*) FROM audit_log`), "only acme's two key creations were written")
}
