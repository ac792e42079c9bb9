package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

const envPublicURL = "https://hub.example.com"

// envClock is the settable clock of the environment tests: it stamps
// rotations (tenant service) and checks signatures and grace periods (API).
type envClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *envClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *envClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// setupEnvs is setup with a public URL, a settable clock shared by the
// tenant service and the webhooks, and a rotation grace period.
func setupEnvs(t *testing.T, grace time.Duration) (bundle, *envClock) {
	t.Helper()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := &envClock{t: time.Now().UTC().Truncate(time.Second)}
	tenants := tenant.NewService(pool, box, tenant.WithClock(clk.Now), tenant.WithSecretGrace(grace), tenant.WithLogger(logger))
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, logger)
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Deps{
		Tenants: tenants, Payments: payment.NewService(pool, enq), Logger: logger,
		Ready:        func(ctx context.Context) error { return pool.Ping(ctx) },
		MaxBodyBytes: 1 << 20, SignatureWindow: 5 * time.Minute, Now: clk.Now, PublicURL: envPublicURL,
	}))
	t.Cleanup(srv.Close)
	key := tenant.NewKey()
	require.NoError(t, tenants.EnsureOperatorKey(context.Background(), key, "test"))
	return bundle{pool: pool, srv: srv, operatorKey: key, logs: logs, tenants: tenants}, clk
}

// envDo sends a request (body: nil, raw []byte or a value to encode) and
// returns status, raw body and the body decoded as an object.
func (b bundle) envDo(t *testing.T, method, path, key string, body any) (int, string, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
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
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, string(raw), out
}

func (b bundle) envKey(t *testing.T, code, role string) string {
	t.Helper()
	tn, err := b.tenants.Get(context.Background(), code)
	require.NoError(t, err)
	key, err := b.tenants.CreateTenantKey(context.Background(), tn, role, "env test "+role)
	require.NoError(t, err)
	return key
}

// errorLocations are the locations a problem's errors name.
func errorLocations(body map[string]any) []string {
	var out []string
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok {
			loc, _ := m["location"].(string)
			out = append(out, loc)
		}
	}
	return out
}

func TestEnvironmentOperations(t *testing.T) {
	t.Parallel()
	b, clk := setupEnvs(t, time.Hour)
	b.createTenant(t, "acme", 1042)
	key := b.operatorKey
	base := "/v1/tenants/acme/environments"

	status, raw, body := b.envDo(t, http.MethodGet, base, key, nil)
	require.Equal(t, http.StatusOK, status, raw)
	items := body["items"].([]any)
	require.Len(t, items, 2)
	staging, production := items[0].(map[string]any), items[1].(map[string]any)
	require.Equal(t, "staging", staging["name"])
	require.Equal(t, "production", production["name"])
	require.Equal(t, "signature", staging["authMode"])
	require.Equal(t, []any{}, staging["ipAllowList"])
	require.Equal(t, true, staging["credentials"].(map[string]any)["signingKeySet"])
	require.NotEmpty(t, staging["credentials"].(map[string]any)["signingKeyUpdatedAt"])
	require.Equal(t, false, production["credentials"].(map[string]any)["signingKeySet"])
	require.NotContains(t, production["credentials"], "signingKeyUpdatedAt")

	status, raw, body = b.envDo(t, http.MethodPatch, base+"/staging", key, map[string]any{
		"ipAllowList":        []string{"203.0.113.0/24", "198.51.100.7"},
		"callbackSuccessUrl": "http://localhost:3000/ok", "callbackFailureUrl": "https://game.example.com/fail",
		"callbackPendingUrl": "https://game.example.com/pending", "callbackCancelUrl": "https://game.example.com/cancel",
	})
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, []any{"203.0.113.0/24", "198.51.100.7/32"}, body["ipAllowList"])
	require.Equal(t, "http://localhost:3000/ok", body["callbackSuccessUrl"])
	require.NotContains(t, body, "webhookToken")

	status, raw, body = b.envDo(t, http.MethodGet, base+"/staging", key, nil)
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, "https://game.example.com/cancel", body["callbackCancelUrl"])
	require.Equal(t, []any{"203.0.113.0/24", "198.51.100.7/32"}, body["ipAllowList"])

	status, raw, body = b.envDo(t, http.MethodPut, base+"/production/credentials", key, map[string]any{
		"apiKey": "pk-1", "apiSecret": "sk-1",
	})
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, true, body["apiKeySet"])
	require.Equal(t, true, body["apiSecretSet"])
	require.Equal(t, false, body["signingKeySet"])
	require.Equal(t, clk.Now().Format(time.RFC3339), body["apiKeyUpdatedAt"])

	status, raw, body = b.envDo(t, http.MethodPost, base+"/production/signing-key/rotate", key, nil)
	require.Equal(t, http.StatusOK, status, raw)
	require.Len(t, body["signingKey"], 43)
	require.Equal(t, true, body["credentials"].(map[string]any)["signingKeySet"])
	require.NotContains(t, body["credentials"], "previousSigningKeyValidUntil", "production had no key before")

	status, raw, body = b.envDo(t, http.MethodPost, base+"/staging/signing-key/rotate", key, nil)
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, clk.Now().Add(time.Hour).Format(time.RFC3339), body["credentials"].(map[string]any)["previousSigningKeyValidUntil"])

	status, raw, body = b.envDo(t, http.MethodPost, base+"/staging/webhook-token/rotate", key, nil)
	require.Equal(t, http.StatusUnprocessableEntity, status, raw)
	require.Equal(t, []string{"environment.authMode"}, errorLocations(body))

	status, raw, body = b.envDo(t, http.MethodPatch, base+"/staging", key, map[string]any{"authMode": "token"})
	require.Equal(t, http.StatusOK, status, raw)
	token := body["webhookToken"].(string)
	require.Len(t, token, 43)
	require.Equal(t, envPublicURL+"/pay1st/staging/acme/payment-events?token="+token, body["webhookUrl"])
	require.Equal(t, true, body["credentials"].(map[string]any)["webhookTokenSet"])

	status, raw, body = b.envDo(t, http.MethodPost, base+"/staging/webhook-token/rotate", key, nil)
	require.Equal(t, http.StatusOK, status, raw)
	require.NotEqual(t, token, body["webhookToken"])
	require.Equal(t, envPublicURL+"/pay1st/staging/acme/payment-events?token="+body["webhookToken"].(string), body["webhookUrl"])
	require.NotEmpty(t, body["credentials"].(map[string]any)["previousWebhookTokenValidUntil"])

	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, base + "/sandbox"}, {http.MethodPatch, base + "/sandbox"},
		{http.MethodPut, base + "/sandbox/credentials"}, {http.MethodPost, base + "/sandbox/signing-key/rotate"},
		{http.MethodPost, base + "/sandbox/webhook-token/rotate"}, {http.MethodGet, base + "/sandbox/integration"},
		{http.MethodGet, "/v1/tenants/nobody/environments"}, {http.MethodGet, "/v1/tenants/nobody/environments/staging"},
	} {
		var body any
		if tt.method == http.MethodPatch || tt.method == http.MethodPut {
			body = map[string]any{}
		}
		status, raw, _ := b.envDo(t, tt.method, tt.path, key, body)
		require.Equal(t, http.StatusNotFound, status, "%s %s: %s", tt.method, tt.path, raw)
	}

	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE action LIKE 'environment.%' AND target LIKE 'environment:%'`).Scan(&n))
	require.Equal(t, 6, n, "every write is audited: patch, credentials, two rotations, token mode, token rotation")
}

func TestIntegrationURLsExact(t *testing.T) {
	t.Parallel()
	b, _ := setupEnvs(t, time.Hour)
	b.createTenant(t, "acme-games", 1042)
	status, raw, body := b.envDo(t, http.MethodGet, "/v1/tenants/acme-games/environments/production/integration", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, "production", body["environment"])
	require.Equal(t, "signature", body["authMode"])
	type entry struct{ key, name, url string }
	var got []entry
	for _, u := range body["urls"].([]any) {
		m := u.(map[string]any)
		require.NotEmpty(t, m["description"])
		got = append(got, entry{m["key"].(string), m["name"].(string), m["url"].(string)})
	}
	p := "https://hub.example.com/pay1st/production/acme-games"
	require.Equal(t, []entry{
		{"webhookUrl", "Webhook URL", p + "/payment-events"},
		{"callbackSuccessUrl", "Success Callback URL", p + "/return/success"},
		{"callbackFailureUrl", "Failure Callback URL", p + "/return/failure"},
		{"callbackPendingUrl", "Pending Callback URL", p + "/return/pending"},
		{"callbackCancelUrl", "Cancel Callback URL", p + "/return/cancel"},
		{"summaryWebhookUrl", "Summary Webhook URL", p + "/summary"},
		{"userInfoWebhookUrl", "User Info Webhook URL", p + "/user-info"},
	}, got)

	status, raw, body = b.envDo(t, http.MethodPatch, "/v1/tenants/acme-games/environments/staging", b.operatorKey, map[string]any{"authMode": "token"})
	require.Equal(t, http.StatusOK, status, raw)
	token := body["webhookToken"].(string)
	status, raw, body = b.envDo(t, http.MethodGet, "/v1/tenants/acme-games/environments/staging/integration", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, raw)
	first := body["urls"].([]any)[0].(map[string]any)
	require.Equal(t, "https://hub.example.com/pay1st/staging/acme-games/payment-events?token=<your webhook token>", first["url"])
	require.NotContains(t, raw, token, "the integration view never shows the real token")
}

// TestNoSecretEverEchoed sets every credential, generates every secret, then
// reads every environment endpoint and sends bad credential bodies: no
// secret is in any response (except the one that generated it) nor in the
// logs nor in the audit log.
func TestNoSecretEverEchoed(t *testing.T) {
	t.Parallel()
	b, _ := setupEnvs(t, time.Hour)
	stagingKey := b.createTenant(t, "acme", 1042)
	admin := b.envKey(t, "acme", tenant.RoleAdmin)
	secrets := []string{stagingKey}
	for _, env := range []string{"staging", "production"} {
		creds := map[string]any{}
		for _, f := range []string{"apiKey", "apiSecret", "signingKey", "basicAuthUsername", "basicAuthPassword"} {
			v := "S3CRET-" + env + "-" + f + "-" + tenant.NewWebhookToken()[:12]
			creds[f] = v
			secrets = append(secrets, v)
		}
		status, raw, _ := b.envDo(t, http.MethodPut, "/v1/tenants/acme/environments/"+env+"/credentials", admin, creds)
		require.Equal(t, http.StatusOK, status, raw)
		for _, s := range secrets {
			require.NotContains(t, raw, s)
		}
		status, raw, body := b.envDo(t, http.MethodPost, "/v1/tenants/acme/environments/"+env+"/signing-key/rotate", admin, nil)
		require.Equal(t, http.StatusOK, status, raw)
		secrets = append(secrets, body["signingKey"].(string))
	}
	status, raw, body := b.envDo(t, http.MethodPatch, "/v1/tenants/acme/environments/staging", admin, map[string]any{"authMode": "token"})
	require.Equal(t, http.StatusOK, status, raw)
	secrets = append(secrets, body["webhookToken"].(string))
	status, raw, body = b.envDo(t, http.MethodPost, "/v1/tenants/acme/environments/staging/webhook-token/rotate", admin, nil)
	require.Equal(t, http.StatusOK, status, raw)
	secrets = append(secrets, body["webhookToken"].(string))

	// Bad bodies carrying a secret are refused without quoting it.
	const canary = "S3CRET-canary-value"
	for _, bad := range []struct {
		body   string
		status int
	}{
		{`{"apiKey":"` + canary + `","unknown":"` + canary + `"}`, 422},
		{`{"apiKey":"` + canary + `",}`, 400},
		{`{"apiKey":"` + canary + `"} {"x":1}`, 400},
		{`{"apiKey":"` + canary + `","apiSecret":42}`, 422},
		{`{"apiKey":"` + canary + `","apiSecret":"` + strings.Repeat("x", 600) + `"}`, 422},
		{`{"signingKey":" ` + canary + `"}`, 422},
		{`["` + canary + `"]`, 400},
		{`"` + canary + `"`, 400},
		{`{"apiKey":"` + canary + strings.Repeat("x", 20<<10) + `"}`, 413},
	} {
		status, raw, _ := b.envDo(t, http.MethodPut, "/v1/tenants/acme/environments/staging/credentials", admin, []byte(bad.body))
		require.Equal(t, bad.status, status, "%s: %s", bad.body, raw)
		require.NotContains(t, raw, canary, bad.body)
		require.NotContains(t, raw, "S3CRET", bad.body)
	}
	secrets = append(secrets, canary)

	var responses []string
	for _, path := range []string{
		"/v1/tenants/acme/environments",
		"/v1/tenants/acme/environments/staging", "/v1/tenants/acme/environments/production",
		"/v1/tenants/acme/environments/staging/integration", "/v1/tenants/acme/environments/production/integration",
		"/v1/tenants/acme",
	} {
		for _, key := range []string{admin, b.operatorKey} {
			status, raw, _ := b.envDo(t, http.MethodGet, path, key, nil)
			require.Equal(t, http.StatusOK, status, raw)
			responses = append(responses, raw)
		}
	}
	status, raw, _ = b.envDo(t, http.MethodPatch, "/v1/tenants/acme/environments/production", admin, map[string]any{"ipAllowList": []string{}})
	require.Equal(t, http.StatusOK, status, raw)
	responses = append(responses, raw)

	var audit string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(details::text, ' '), '') FROM audit_log`).Scan(&audit))
	for _, s := range secrets {
		for _, r := range responses {
			require.NotContains(t, r, s)
		}
		require.NotContains(t, b.logs.String(), s, "no secret in the logs")
		require.NotContains(t, audit, s, "no secret in the audit log")
	}
}

// postEvent sends a payment event to path (query included) with headers.
func (b bundle) postEvent(t *testing.T, path string, body []byte, headers map[string]string) (int, map[string]any) {
	t.Helper()
	status, _, out := b.post(t, path, body, headers)
	return status, out
}

func TestSigningKeyRotationOverHTTP(t *testing.T) {
	t.Parallel()
	b, clk := setupEnvs(t, time.Hour)
	b.createTenant(t, "acme", 1042)
	path := "/pay1st/production/acme/payment-events"
	setKey := func(k string) {
		status, raw, _ := b.envDo(t, http.MethodPut, "/v1/tenants/acme/environments/production/credentials", b.operatorKey, map[string]any{"signingKey": k})
		require.Equal(t, http.StatusOK, status, raw)
	}
	n := 0
	send := func(k string) (int, map[string]any) {
		n++
		body := eventBody(t, "acme", 1042, "C-ROT-"+string(rune('A'+n))+"-P", nil)
		return b.postEvent(t, path, body, signedHeaders(k, body, clk.Now()))
	}
	oldKey, newKey := "old-signing-key-0123456789", "new-signing-key-0123456789"
	setKey(oldKey)
	status, out := send(oldKey)
	require.Equal(t, http.StatusOK, status, out)

	setKey(newKey)
	status, out = send(newKey)
	require.Equal(t, http.StatusOK, status, out)
	status, out = send(oldKey)
	require.Equal(t, http.StatusOK, status, "the old key verifies during the grace period: %v", out)

	clk.Add(time.Hour - time.Second)
	status, out = send(oldKey)
	require.Equal(t, http.StatusOK, status, "still within the grace period: %v", out)
	clk.Add(time.Second)
	status, out = send(oldKey)
	require.Equal(t, http.StatusUnauthorized, status, "after the grace period only the new key verifies")
	require.Equal(t, "signature does not match", out["errorMessage"])
	status, out = send(newKey)
	require.Equal(t, http.StatusOK, status, out)
	require.NotContains(t, b.logs.String(), oldKey)
	require.NotContains(t, b.logs.String(), newKey)
}

func TestTokenMode(t *testing.T) {
	t.Parallel()
	b, _ := setupEnvs(t, time.Hour)
	signingKey := b.createTenant(t, "acme", 1042)
	status, raw, out := b.envDo(t, http.MethodPatch, "/v1/tenants/acme/environments/staging", b.operatorKey, map[string]any{"authMode": "token"})
	require.Equal(t, http.StatusOK, status, raw)
	token := out["webhookToken"].(string)
	webhookURL := out["webhookUrl"].(string)

	path := "/pay1st/staging/acme/payment-events"
	// Pay1st echoes the Webhook URL, token included, in partnerWebhookUrl.
	body := eventBody(t, "acme", 1042, "C-TOK-P", func(m map[string]any) { m["partnerWebhookUrl"] = webhookURL })
	tests := []struct {
		name    string
		query   string
		headers map[string]string
		status  int
		reason  string
	}{
		{"missing token", "", nil, 401, "missing token"},
		{"wrong token", "?token=" + tenant.NewWebhookToken(), nil, 401, "token does not match"},
		{"truncated token", "?token=" + token[:42], nil, 401, "token does not match"},
		{"signature is not enough", "", signedHeaders(signingKey, body, time.Now()), 401, "missing token"},
		{"right token", "?token=" + token, nil, 200, ""},
		{"right token again", "?token=" + token + "&other=1", nil, 200, ""},
	}
	for _, tt := range tests {
		status, out := b.postEvent(t, path+tt.query, body, tt.headers)
		require.Equal(t, tt.status, status, "%s: %v", tt.name, out)
		if tt.reason != "" {
			require.Equal(t, pay1st.CodeUnauthorized, out["errorCode"], tt.name)
			require.Contains(t, out["errorMessage"], tt.reason, tt.name)
		}
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments`))

	var recorded string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT string_agg(encode(body, 'escape') || headers::text || reason || remote_addr, ' ')
		FROM deliveries`).Scan(&recorded))
	require.Contains(t, recorded, "?token="+tenant.RedactedToken, "partnerWebhookUrl is kept, its token redacted")
	require.NotContains(t, recorded, token, "the token is never recorded")
	var payload string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT string_agg(payload::text, ' ') FROM payment_events`).Scan(&payload))
	require.NotContains(t, payload, token)
	require.NotContains(t, b.logs.String(), token, "nor logged")
}

func TestNoneMode(t *testing.T) {
	t.Parallel()
	b, _ := setupEnvs(t, time.Hour)
	b.createTenant(t, "acme", 1042)
	status, raw, out := b.envDo(t, http.MethodPatch, "/v1/tenants/acme/environments/production", b.operatorKey, map[string]any{"authMode": "none"})
	require.Equal(t, http.StatusUnprocessableEntity, status, raw)
	require.Equal(t, []string{"body.authMode"}, errorLocations(out))

	body := eventBody(t, "acme", 1042, "C-NONE-P", nil)
	status, ev := b.postEvent(t, "/pay1st/staging/acme/payment-events", body, nil)
	require.Equal(t, http.StatusUnauthorized, status, "signature mode by default: %v", ev)

	status, raw, _ = b.envDo(t, http.MethodPatch, "/v1/tenants/acme/environments/staging", b.operatorKey, map[string]any{"authMode": "none"})
	require.Equal(t, http.StatusOK, status, raw)
	status, ev = b.postEvent(t, "/pay1st/staging/acme/payment-events", body, nil)
	require.Equal(t, http.StatusOK, status, "staging in none mode accepts an unsigned event: %v", ev)
	status, ev = b.postEvent(t, "/pay1st/production/acme/payment-events", body, nil)
	require.Equal(t, http.StatusUnauthorized, status, "production is untouched: %v", ev)
}

func TestIPAllowList(t *testing.T) {
	t.Parallel()
	b, clk := setupEnvs(t, time.Hour)
	key := b.createTenant(t, "acme", 1042)
	path := "/pay1st/staging/acme/payment-events"
	allow := func(list ...string) {
		status, raw, _ := b.envDo(t, http.MethodPatch, "/v1/tenants/acme/environments/staging", b.operatorKey, map[string]any{"ipAllowList": list})
		require.Equal(t, http.StatusOK, status, raw)
	}
	body := eventBody(t, "acme", 1042, "C-IP-P", nil)

	allow("10.0.0.0/8", "2001:db8::/32")
	status, out := b.postEvent(t, path, body, signedHeaders(key, body, clk.Now()))
	require.Equal(t, http.StatusForbidden, status, out)
	require.Equal(t, pay1st.CodeForbidden, out["errorCode"])
	require.Equal(t, "address 127.0.0.1 is not in this environment's IP allow-list", out["errorMessage"])
	var verdict, reason string
	var code int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT verdict, reason, status_code FROM deliveries WHERE session_id = $1`,
		out["sessionId"]).Scan(&verdict, &reason, &code))
	require.Equal(t, "rejected", verdict)
	require.Equal(t, out["errorMessage"], reason)
	require.Equal(t, http.StatusForbidden, code)

	// X-Forwarded-For is not trusted.
	h := signedHeaders(key, body, clk.Now())
	h["X-Forwarded-For"] = "10.1.2.3"
	status, out = b.postEvent(t, path, body, h)
	require.Equal(t, http.StatusForbidden, status, out)

	allow("10.0.0.0/8", "127.0.0.1")
	status, out = b.postEvent(t, path, body, signedHeaders(key, body, clk.Now()))
	require.Equal(t, http.StatusOK, status, out)

	allow() // empty: any address
	status, out = b.postEvent(t, path, body, signedHeaders(key, body, clk.Now()))
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "duplicate", out["status"])
}

func TestEnvironmentBadInput(t *testing.T) {
	t.Parallel()
	b, _ := setupEnvs(t, time.Hour)
	b.createTenant(t, "acme", 1042)
	long := "https://game.example.com/" + strings.Repeat("a", 2048)
	many := make([]string, 101)
	for i := range many {
		many[i] = "10.0.0.1"
	}
	tests := []struct {
		name     string
		env      string
		body     map[string]any
		status   int
		location string
	}{
		{"https in production", "production", map[string]any{"callbackSuccessUrl": "https://game.example.com/ok"}, 200, ""},
		{"http in staging", "staging", map[string]any{"callbackFailureUrl": "http://localhost:3000/fail"}, 200, ""},
		{"clear", "staging", map[string]any{"callbackFailureUrl": ""}, 200, ""},
		{"http in production", "production", map[string]any{"callbackSuccessUrl": "http://game.example.com/ok"}, 422, "body.callbackSuccessUrl"},
		{"relative", "staging", map[string]any{"callbackFailureUrl": "/pay/failed"}, 422, "body.callbackFailureUrl"},
		{"no scheme", "staging", map[string]any{"callbackPendingUrl": "game.example.com/pending"}, 422, "body.callbackPendingUrl"},
		{"other scheme", "staging", map[string]any{"callbackCancelUrl": "javascript:alert(1)"}, 422, "body.callbackCancelUrl"},
		{"credentials in URL", "production", map[string]any{"callbackCancelUrl": "https://u:p@game.example.com/c"}, 422, "body.callbackCancelUrl"},
		{"space", "production", map[string]any{"callbackCancelUrl": "https://game.example.com/a b"}, 422, "body.callbackCancelUrl"},
		{"too long", "production", map[string]any{"callbackSuccessUrl": long}, 422, "body.callbackSuccessUrl"},
		{"not a string", "production", map[string]any{"callbackSuccessUrl": 5}, 422, "body.callbackSuccessUrl"},
		{"unknown auth mode", "staging", map[string]any{"authMode": "open"}, 422, "body.authMode"},
		{"none in production", "production", map[string]any{"authMode": "none"}, 422, "body.authMode"},
		{"bad CIDR", "staging", map[string]any{"ipAllowList": []string{"10.0.0.0/8", "10.0.0.1/8"}}, 422, "body.ipAllowList[1]"},
		{"not an address", "staging", map[string]any{"ipAllowList": []string{"example.com"}}, 422, "body.ipAllowList[0]"},
		{"too many", "staging", map[string]any{"ipAllowList": many}, 422, "body.ipAllowList"},
		{"unknown field", "staging", map[string]any{"webhookToken": "mine"}, 422, "body.webhookToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw, body := b.envDo(t, http.MethodPatch, "/v1/tenants/acme/environments/"+tt.env, b.operatorKey, tt.body)
			require.Equal(t, tt.status, status, raw)
			if tt.location != "" {
				require.Contains(t, errorLocations(body), tt.location, raw)
			}
		})
	}
	status, raw, body := b.envDo(t, http.MethodGet, "/v1/tenants/acme/environments/production", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, "https://game.example.com/ok", body["callbackSuccessUrl"], "only the valid change was kept")
	require.Equal(t, "signature", body["authMode"])
	require.NotContains(t, body, "callbackCancelUrl")
}

// TestEnvironmentIsolation tries every environment operation with another
// tenant's keys (not found, never data), and a viewer's (reads only).
func TestEnvironmentIsolation(t *testing.T) {
	t.Parallel()
	b, _ := setupEnvs(t, time.Hour)
	b.createTenant(t, "acme", 1)
	b.createTenant(t, "rival", 2)
	base := "/v1/tenants/acme/environments"
	reads := []string{base, base + "/staging", base + "/production", base + "/staging/integration", base + "/production/integration"}
	writes := []struct {
		method, path string
		body         any
	}{
		{http.MethodPatch, base + "/staging", map[string]any{"callbackSuccessUrl": "https://evil.example.com/"}},
		{http.MethodPut, base + "/production/credentials", map[string]any{"signingKey": "evil-key-0123456789"}},
		{http.MethodPost, base + "/staging/signing-key/rotate", nil},
		{http.MethodPost, base + "/staging/webhook-token/rotate", nil},
	}
	rivals := []string{b.envKey(t, "rival", tenant.RoleAdmin), b.envKey(t, "rival", tenant.RoleViewer)}
	viewer := b.envKey(t, "acme", tenant.RoleViewer)
	before := b.count(t, `SELECT count(*) FROM audit_log`)
	for i, rival := range rivals {
		role := []string{"admin", "viewer"}[i]
		for _, p := range reads {
			status, raw, _ := b.envDo(t, http.MethodGet, p, rival, nil)
			require.Equal(t, http.StatusNotFound, status, "%s %s: %s", role, p, raw)
			require.NotContains(t, raw, "acme")
			require.NotContains(t, raw, "signature")
		}
		for _, w := range writes {
			status, raw, _ := b.envDo(t, w.method, w.path, rival, w.body)
			require.Equal(t, http.StatusNotFound, status, "%s %s %s: %s", role, w.method, w.path, raw)
		}
	}
	for _, p := range reads {
		status, raw, _ := b.envDo(t, http.MethodGet, p, viewer, nil)
		require.Equal(t, http.StatusOK, status, "%s: %s", p, raw)
	}
	for _, w := range writes {
		status, raw, _ := b.envDo(t, w.method, w.path, viewer, w.body)
		require.Equal(t, http.StatusForbidden, status, "viewer %s %s: %s", w.method, w.path, raw)
	}
	require.Equal(t, before, b.count(t, `SELECT count(*) FROM audit_log`), "nothing was written")
	status, raw, body := b.envDo(t, http.MethodGet, base+"/staging", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, raw)
	require.NotContains(t, body, "callbackSuccessUrl")

	admin := b.envKey(t, "acme", tenant.RoleAdmin)
	for _, w := range writes[:3] {
		status, raw, _ := b.envDo(t, w.method, w.path, admin, w.body)
		require.Equal(t, http.StatusOK, status, "admin %s %s: %s", w.method, w.path, raw)
	}
}
