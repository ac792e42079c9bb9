package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

// fetchH is call that also returns the response headers.
func (b bundle) fetchH(t *testing.T, method, path, key string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
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
	return resp.StatusCode, resp.Header, out
}

var linkRE = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// walkPages GETs path (which sets limit) and follows each page's Link header
// to the end, checking that Link and nextCursor agree and pages hold at most
// limit items. It returns every item in order.
func (b bundle) walkPages(t *testing.T, path, key string, limit int) []map[string]any {
	t.Helper()
	var items []map[string]any
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 100, "pagination must end")
		status, hdr, body := b.fetchH(t, http.MethodGet, path, key, nil)
		require.Equal(t, http.StatusOK, status, body)
		list, ok := body["items"].([]any)
		require.True(t, ok, "items is a list, even when empty: %v", body)
		require.LessOrEqual(t, len(list), limit)
		for _, it := range list {
			items = append(items, it.(map[string]any))
		}
		link := hdr.Get("Link")
		next, _ := body["nextCursor"].(string)
		if next == "" {
			require.Empty(t, link, "no Link on the last page")
			require.NotContains(t, body, "nextCursor")
			break
		}
		m := linkRE.FindStringSubmatch(link)
		require.NotNil(t, m, "Link header: %q", link)
		require.Contains(t, m[1], "cursor="+next)
		path = m[1]
	}
	return items
}

func field(items []map[string]any, name string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, fmt.Sprint(it[name]))
	}
	return out
}

// tenantKey issues a key of the tenant with partnerCode code.
func (b bundle) tenantKey(t *testing.T, code, role string) string {
	t.Helper()
	tn, err := b.tenants.Get(context.Background(), code)
	require.NoError(t, err)
	key, err := b.tenants.CreateTenantKey(context.Background(), tn, role, "test "+role)
	require.NoError(t, err)
	return key
}

func TestListTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var codes, suspended []string
	for i := range 7 {
		code := fmt.Sprintf("studio-%d", i)
		b.createTenant(t, code, int64(100+i))
		codes = append(codes, code)
		if i%3 == 1 {
			status, _, body := b.call(t, http.MethodPost, "/v1/tenants/"+code+"/suspend", b.operatorKey, nil)
			require.Equal(t, http.StatusOK, status, body)
			suspended = append(suspended, code)
		}
	}
	require.Equal(t, codes, field(b.walkPages(t, "/v1/tenants?limit=3", b.operatorKey, 3), "partnerCode"))
	require.Equal(t, codes, field(b.walkPages(t, "/v1/tenants?limit=7", b.operatorKey, 7), "partnerCode"), "a full last page ends the list")
	require.Equal(t, codes, field(b.walkPages(t, "/v1/tenants", b.operatorKey, tenant.DefaultPageSize), "partnerCode"))
	require.Equal(t, suspended, field(b.walkPages(t, "/v1/tenants?limit=1&status=suspended", b.operatorKey, 1), "partnerCode"),
		"the filter survives the Link header")
	active := b.walkPages(t, "/v1/tenants?limit=2&status=active", b.operatorKey, 2)
	require.Len(t, active, len(codes)-len(suspended))
	for _, it := range active {
		require.Equal(t, "active", it["status"])
	}

	for _, tc := range []struct{ query, location string }{
		{"status=deleted", "query.status"},
		{"cursor=garbage!", "query.cursor"},
		{"limit=0", "query.limit"},
		{"limit=201", "query.limit"},
	} {
		status, _, body := b.call(t, http.MethodGet, "/v1/tenants?"+tc.query, b.operatorKey, nil)
		require.Equal(t, http.StatusUnprocessableEntity, status, tc.query)
		require.Contains(t, fmt.Sprint(body["errors"]), tc.location, tc.query)
	}
	status, _, _ := b.call(t, http.MethodGet, "/v1/tenants", b.tenantKey(t, "studio-0", tenant.RoleAdmin), nil)
	require.Equal(t, http.StatusForbidden, status, "operators only")
}

func TestUpdateTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	b.createTenant(t, "rival", 2)
	admin := b.tenantKey(t, "acme", tenant.RoleAdmin)
	viewer := b.tenantKey(t, "acme", tenant.RoleViewer)
	rivalAdmin := b.tenantKey(t, "rival", tenant.RoleAdmin)

	status, _, body := b.call(t, http.MethodPatch, "/v1/tenants/acme", b.operatorKey,
		map[string]any{"name": "Acme Games Ltd", "contactName": "Ada"})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "Acme Games Ltd", body["name"])
	require.Equal(t, "Ada", body["contactName"])
	require.Equal(t, "", body["contactEmail"])

	status, _, body = b.call(t, http.MethodPatch, "/v1/tenants/acme", admin, map[string]any{"contactEmail": "ada@acme.example"})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "Acme Games Ltd", body["name"], "absent fields stay")
	require.Equal(t, "ada@acme.example", body["contactEmail"])

	status, _, body = b.call(t, http.MethodGet, "/v1/tenants/acme", viewer, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ada@acme.example", body["contactEmail"])
	require.Equal(t, "Ada", body["contactName"])

	status, ctype, body := b.call(t, http.MethodPatch, "/v1/tenants/acme", viewer, map[string]any{"name": "Mine"})
	require.Equal(t, http.StatusForbidden, status, "viewers read, never write")
	require.Equal(t, "application/problem+json", ctype)
	status, _, _ = b.call(t, http.MethodPatch, "/v1/tenants/acme", rivalAdmin, map[string]any{"name": "Mine"})
	require.Equal(t, http.StatusNotFound, status, "another tenant is not found")
	status, _, _ = b.call(t, http.MethodPatch, "/v1/tenants/nobody", b.operatorKey, map[string]any{"name": "x"})
	require.Equal(t, http.StatusNotFound, status)

	for _, tc := range []struct {
		body     map[string]any
		location string
	}{
		{map[string]any{"contactEmail": "not-an-email"}, "body.contactEmail"},
		{map[string]any{"contactEmail": "Ada <ada@acme.example>"}, "body.contactEmail"},
		{map[string]any{"contactEmail": strings.Repeat("a", 250) + "@x.io"}, "body.contactEmail"},
		{map[string]any{"name": "   "}, "body.name"},
		{map[string]any{"name": ""}, "body.name"},
		{map[string]any{"name": strings.Repeat("n", 201)}, "body.name"},
		{map[string]any{"contactName": strings.Repeat("n", 201)}, "body.contactName"},
	} {
		status, ctype, body := b.call(t, http.MethodPatch, "/v1/tenants/acme", admin, tc.body)
		require.Equal(t, http.StatusUnprocessableEntity, status, tc.body)
		require.Equal(t, "application/problem+json", ctype)
		errs, _ := body["errors"].([]any)
		require.NotEmpty(t, errs, body)
		require.Equal(t, tc.location, errs[0].(map[string]any)["location"], body)
	}
	status, _, body = b.call(t, http.MethodGet, "/v1/tenants/acme", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Acme Games Ltd", body["name"], "refused updates changed nothing")
	require.Equal(t, "ada@acme.example", body["contactEmail"])

	// create-tenant takes the contact too, validated the same way.
	status, _, body = b.call(t, http.MethodPost, "/v1/tenants", b.operatorKey,
		map[string]any{"partnerCode": "third", "partnerId": 3, "name": "Third", "contactEmail": "x"})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, fmt.Sprint(body["errors"]), "body.contactEmail")
	status, _, body = b.call(t, http.MethodPost, "/v1/tenants", b.operatorKey,
		map[string]any{"partnerCode": "third", "partnerId": 3, "name": "Third", "contactName": "Grace", "contactEmail": "grace@third.example"})
	require.Equal(t, http.StatusCreated, status, body)
	require.Equal(t, "grace@third.example", body["contactEmail"])
}

func TestSuspendTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	signingKey := b.createTenant(t, "acme", 1042)
	b.createTenant(t, "rival", 2)
	admin := b.tenantKey(t, "acme", tenant.RoleAdmin)
	rivalAdmin := b.tenantKey(t, "rival", tenant.RoleAdmin)
	send := func(ref string) (int, map[string]any) {
		body := eventBody(t, "acme", 1042, ref, nil)
		status, _, out := b.post(t, "/pay1st/staging/acme/payment-events", body, signedHeaders(signingKey, body, time.Now()))
		return status, out
	}
	status, out := send("C-1-P") // also caches the tenant as active on this node
	require.Equal(t, http.StatusOK, status, out)

	for _, key := range []string{admin, b.tenantKey(t, "acme", tenant.RoleViewer)} {
		status, _, _ := b.call(t, http.MethodPost, "/v1/tenants/acme/suspend", key, nil)
		require.Equal(t, http.StatusForbidden, status, "operators only")
	}
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/suspend", rivalAdmin, nil)
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/nobody/suspend", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, status)

	for range 2 {
		status, _, body := b.call(t, http.MethodPost, "/v1/tenants/acme/suspend", b.operatorKey, nil)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "suspended", body["status"])
	}
	// At once on this node, despite the cached environment.
	status, out = send("C-2-P")
	require.Equal(t, http.StatusServiceUnavailable, status, out)
	require.Contains(t, out["errorMessage"], "suspended")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries WHERE reason = 'tenant is suspended' AND status_code = 503`),
		"the refused delivery is recorded")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments`), "and not acted on")

	// The management API keeps working for a suspended tenant.
	status, _, body := b.call(t, http.MethodGet, "/v1/tenants/acme", admin, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "suspended", body["status"])

	for range 2 {
		status, _, body := b.call(t, http.MethodPost, "/v1/tenants/acme/resume", b.operatorKey, nil)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "active", body["status"])
	}
	status, out = send("C-3-P")
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "accepted", out["status"])
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM audit_log WHERE action IN ('tenant.suspend', 'tenant.resume')`),
		"repeats are no-ops, audited once each")
}
