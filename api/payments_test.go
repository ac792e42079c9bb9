package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// sendEvent posts a signed Payment Webhook Event through the real webhook.
func (b bundle) sendEvent(t *testing.T, code string, id int64, signingKey, reference, status, updated string, mutate func(map[string]any)) string {
	t.Helper()
	body := eventBody(t, code, id, reference, func(ev map[string]any) {
		ev["status"], ev["updatedDate"] = status, updated
		if mutate != nil {
			mutate(ev)
		}
	})
	headers := signedHeaders(signingKey, body, time.Now())
	st, _, out := b.post(t, "/pay1st/staging/"+code+"/payment-events", body, headers)
	require.Equal(t, http.StatusOK, st, out)
	return headers[pay1st.HeaderSignature]
}

// getLink is a GET returning the decoded body and the Link header.
func (b bundle) getLink(t *testing.T, path, key string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, resp.Header.Get("Link"), out
}

func refs(body map[string]any) []string {
	var out []string
	for _, it := range body["items"].([]any) {
		out = append(out, it.(map[string]any)["reference"].(string))
	}
	return out
}

func TestPaymentsListAndTimeline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := b.createTenant(t, "acme", 1)
	otherKey := b.createTenant(t, "bravo", 2)
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	viewer, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleViewer, "viewer")
	require.NoError(t, err)

	sig := b.sendEvent(t, "acme", 1, key, "C-1-P", "PENDING", "2026-03-17T08:11:00Z", nil)
	b.sendEvent(t, "acme", 1, key, "C-1-P", "SUCCESSFUL", "2026-03-17T08:12:00Z", nil)
	b.sendEvent(t, "acme", 1, key, "C-1-P", "SUCCESSFUL", "2026-03-17T08:12:00Z", nil) // duplicate
	b.sendEvent(t, "acme", 1, key, "C-1-P", "PENDING", "2026-03-17T08:13:00Z", nil)    // flagged
	b.sendEvent(t, "acme", 1, key, "C-2-P", "PENDING", "2026-03-17T08:11:00Z", func(ev map[string]any) { ev["customerId"] = 9 })
	b.sendEvent(t, "acme", 1, key, "C-2-P", "SUCCESSFUL", "2026-03-17T08:12:00Z", func(ev map[string]any) {
		ev["customerId"], ev["orderAmount"] = 9, json.Number("999.99")
	}) // held
	b.sendEvent(t, "acme", 1, key, "C-3-P", "FAILED", "2026-03-17T08:11:00Z", nil)
	b.sendEvent(t, "bravo", 2, otherKey, "C-BRAVO-P", "SUCCESSFUL", "2026-03-17T08:11:00Z", nil)

	base := "/v1/tenants/acme/environments/staging/payments"
	st, link, body := b.getLink(t, base+"?limit=2", viewer)
	require.Equal(t, http.StatusOK, st, body)
	require.Equal(t, []string{"C-3-P", "C-2-P"}, refs(body), "newest first; viewers may read")
	require.NotEmpty(t, body["nextCursor"])
	require.Contains(t, link, `rel="next"`)
	u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
	require.NoError(t, err)
	st, link, body = b.getLink(t, u.String(), viewer)
	require.Equal(t, http.StatusOK, st, body)
	require.Equal(t, []string{"C-1-P"}, refs(body))
	require.Empty(t, link)
	require.NotContains(t, body, "nextCursor")

	for q, want := range map[string][]string{
		"?status=SUCCESSFUL":            {"C-2-P", "C-1-P"},
		"?status=FAILED":                {"C-3-P"},
		"?onHold=true":                  {"C-2-P"},
		"?onHold=false":                 {"C-3-P", "C-1-P"},
		"?customerId=9":                 {"C-2-P"},
		"?reference=C-1-P":              {"C-1-P"},
		"?partnerReference=order-C-3-P": {"C-3-P"},
		"?from=2000-01-01T00:00:00Z":    {"C-3-P", "C-2-P", "C-1-P"},
		"?to=2000-01-01T00:00:00Z":      nil,
		"?status=REFUND":                nil,
	} {
		st, _, body := b.call(t, http.MethodGet, base+q, b.operatorKey, nil)
		require.Equal(t, http.StatusOK, st, "%s: %v", q, body)
		if want == nil {
			require.Empty(t, body["items"], q)
			continue
		}
		require.Equal(t, want, refs(body), q)
	}
	for _, q := range []string{"?status=PAID", "?cursor=zz", "?limit=500", "?onHold=maybe", "?from=yesterday",
		"?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "?reference=" + strings.Repeat("x", 201)} {
		st, ctype, body := b.call(t, http.MethodGet, base+q, b.operatorKey, nil)
		require.Equal(t, http.StatusUnprocessableEntity, st, "%s: %v", q, body)
		require.Equal(t, "application/problem+json", ctype)
	}

	st, _, held := b.call(t, http.MethodGet, base+"/C-2-P", key2(t, b, acme), nil)
	require.Equal(t, http.StatusOK, st, held)
	require.Equal(t, true, held["onHold"])
	require.Contains(t, held["holdReason"], "amount 999.99 differs")
	require.Equal(t, "100.5", held["amount"], "money is a decimal string, the first-seen amount")
	require.Empty(t, held["fulfilments"])

	st, _, tl := b.call(t, http.MethodGet, base+"/C-1-P", viewer, nil)
	require.Equal(t, http.StatusOK, st, tl)
	require.Equal(t, "SUCCESSFUL", tl["status"])
	events := tl["events"].([]any)
	require.Len(t, events, 3)
	flagged := events[2].(map[string]any)
	require.Equal(t, "PENDING", flagged["status"])
	require.Equal(t, false, flagged["applied"])
	require.Equal(t, true, flagged["flagged"])
	require.Equal(t, "transition SUCCESSFUL -> PENDING is not allowed", flagged["flagReason"])
	deliveries := tl["deliveries"].([]any)
	require.Len(t, deliveries, 4)
	require.Equal(t, "duplicate", deliveries[2].(map[string]any)["verdict"])
	require.EqualValues(t, 200, deliveries[0].(map[string]any)["statusCode"])
	blob, err := json.Marshal(tl)
	require.NoError(t, err)
	require.NotContains(t, string(blob), sig, "no signature in the timeline")
	require.NotContains(t, string(blob), "partnerWebhookUrl", "no raw body in the timeline")
	require.NotContains(t, deliveries[0], "body")
	require.NotContains(t, deliveries[0], "headers")

	// Isolation: acme's keys never see bravo's payments, whatever the path.
	for _, path := range []string{
		"/v1/tenants/bravo/environments/staging/payments",
		"/v1/tenants/bravo/environments/staging/payments/C-BRAVO-P",
	} {
		st, ctype, body := b.call(t, http.MethodGet, path, viewer, nil)
		require.Equal(t, http.StatusNotFound, st, path)
		require.Equal(t, "application/problem+json", ctype)
		blob, _ := json.Marshal(body)
		require.NotContains(t, string(blob), "C-BRAVO-P")
	}
	st, _, _ = b.call(t, http.MethodGet, base+"/C-BRAVO-P", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, st, "bravo's reference is not acme's payment")
	st, _, _ = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/qa/payments", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, st)
	st, _, _ = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/production/payments/C-1-P", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, st, "payments are per environment")
	st, _, body = b.call(t, http.MethodGet, "/v1/tenants/bravo/environments/staging/payments/C-BRAVO-P", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, st, body)
	require.Len(t, body["fulfilments"], 0, "no worker runs in api tests")
	st, _, _ = b.call(t, http.MethodGet, base, "", nil)
	require.Equal(t, http.StatusUnauthorized, st)
}

// key2 is an admin key of the tenant.
func key2(t *testing.T, b bundle, tn tenant.Tenant) string {
	t.Helper()
	k, err := b.tenants.CreateTenantKey(context.Background(), tn, tenant.RoleAdmin, "admin")
	require.NoError(t, err)
	return k
}

func TestReleasePaymentHold(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := b.createTenant(t, "acme", 1)
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	admin := key2(t, b, acme)

	b.sendEvent(t, "acme", 1, key, "C-H-P", "PENDING", "2026-03-17T08:11:00Z", nil)
	b.sendEvent(t, "acme", 1, key, "C-H-P", "SUCCESSFUL", "2026-03-17T08:12:00Z", func(ev map[string]any) {
		ev["currencyCode"] = "USD"
	})
	b.sendEvent(t, "acme", 1, key, "C-OK-P", "SUCCESSFUL", "2026-03-17T08:12:00Z", nil)
	fulfilJobs := func() int {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`).Scan(&n))
		return n
	}
	require.Equal(t, 1, fulfilJobs(), "the held payment queued nothing")

	path := "/v1/tenants/acme/environments/staging/payments/C-H-P/release-hold"
	note := map[string]any{"note": "checked with finance"}
	st, _, _ := b.call(t, http.MethodPost, path, admin, note)
	require.Equal(t, http.StatusForbidden, st, "operators only")
	st, _, _ = b.call(t, http.MethodPost, path, b.operatorKey, map[string]any{})
	require.Equal(t, http.StatusUnprocessableEntity, st, "a note is required")

	st, _, body := b.call(t, http.MethodPost, path, b.operatorKey, note)
	require.Equal(t, http.StatusOK, st, body)
	require.Equal(t, false, body["onHold"])
	require.Equal(t, true, body["fulfilQueued"])
	require.Equal(t, 2, fulfilJobs())

	st, ctype, _ := b.call(t, http.MethodPost, path, b.operatorKey, note)
	require.Equal(t, http.StatusConflict, st, "not on hold any more")
	require.Equal(t, "application/problem+json", ctype)
	st, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/payments/C-NONE-P/release-hold", b.operatorKey, note)
	require.Equal(t, http.StatusNotFound, st)

	st, _, audit := b.call(t, http.MethodGet, "/v1/tenants/acme/audit-log", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, st)
	entry := audit["items"].([]any)[0].(map[string]any)
	require.Equal(t, "payment.release_hold", entry["action"])
	require.Equal(t, "checked with finance", entry["details"].(map[string]any)["note"])
}
