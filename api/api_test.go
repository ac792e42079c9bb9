package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	pool        *pgxpool.Pool
	srv         *httptest.Server
	operatorKey string
	logs        *bytes.Buffer
	tenants     *tenant.Service
}

func setup(t *testing.T) bundle {
	t.Helper()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tenants := tenant.NewService(pool, box, tenant.WithLogger(logger))
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, logger)
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Deps{
		Tenants: tenants, Payments: payment.NewService(pool, enq), Logger: logger,
		Ready:        func(ctx context.Context) error { return pool.Ping(ctx) },
		MaxBodyBytes: 1 << 20, SignatureWindow: 5 * time.Minute,
	}))
	t.Cleanup(srv.Close)
	key := tenant.NewKey()
	require.NoError(t, tenants.EnsureOperatorKey(context.Background(), key, "test"))
	return bundle{pool: pool, srv: srv, operatorKey: key, logs: logs, tenants: tenants}
}

// call sends a request and returns status, content type and decoded JSON body.
func (b bundle) call(t *testing.T, method, path, key string, body any) (int, string, map[string]any) {
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
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), out
}

func (b bundle) createTenant(t *testing.T, code string, id int64) string {
	t.Helper()
	status, _, body := b.call(t, http.MethodPost, "/v1/tenants", b.operatorKey,
		map[string]any{"partnerCode": code, "partnerId": id, "name": "Studio " + code})
	require.Equal(t, http.StatusCreated, status, body)
	return body["stagingSigningKey"].(string)
}

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)

	key := b.createTenant(t, "acme", 1042)
	require.Len(t, key, 43)

	status, _, body := b.call(t, http.MethodGet, "/v1/tenants/acme", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "acme", body["partnerCode"])
	require.EqualValues(t, 1042, body["partnerId"])
	require.NotContains(t, body, "stagingSigningKey", "the key is shown once, on creation")

	status, ctype, body := b.call(t, http.MethodPost, "/v1/tenants", b.operatorKey,
		map[string]any{"partnerCode": "acme", "partnerId": 9, "name": "Again"})
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, "application/problem+json", ctype)
	require.Contains(t, body["detail"], "partnerCode")
}

func TestManagementBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	tenantKey := tenant.NewKey() // well-formed, never registered

	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   any
		status int
	}{
		{"no key", http.MethodPost, "/v1/tenants", "", map[string]any{"partnerCode": "x1", "partnerId": 2, "name": "n"}, 401},
		{"unknown key", http.MethodPost, "/v1/tenants", tenantKey, map[string]any{"partnerCode": "x1", "partnerId": 2, "name": "n"}, 401},
		{"garbage key", http.MethodGet, "/v1/tenants/acme", "not-a-key", nil, 401},
		{"bad partnerCode", http.MethodPost, "/v1/tenants", b.operatorKey, map[string]any{"partnerCode": "Bad Code", "partnerId": 2, "name": "n"}, 422},
		{"zero partnerId", http.MethodPost, "/v1/tenants", b.operatorKey, map[string]any{"partnerCode": "x1", "partnerId": 0, "name": "n"}, 422},
		{"missing name", http.MethodPost, "/v1/tenants", b.operatorKey, map[string]any{"partnerCode": "x1", "partnerId": 2}, 422},
		{"duplicate partnerId", http.MethodPost, "/v1/tenants", b.operatorKey, map[string]any{"partnerCode": "x1", "partnerId": 1, "name": "n"}, 409},
		{"unknown tenant", http.MethodGet, "/v1/tenants/nobody", b.operatorKey, nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, body := b.call(t, tt.method, tt.path, tt.key, tt.body)
			require.Equal(t, tt.status, status, body)
			require.Equal(t, "application/problem+json", ctype)
			require.EqualValues(t, tt.status, body["status"])
			require.NotEmpty(t, body["title"])
		})
	}
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM tenants`).Scan(&n))
	require.Equal(t, 1, n, "bad input created nothing")
}

// TestTenantKeyIsolation: a tenant key sees its own tenant; another
// tenant is simply not found, and operator-only operations are forbidden.
func TestTenantKeyIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1)
	b.createTenant(t, "rival", 2)
	acme, err := b.tenants.Get(context.Background(), "acme")
	require.NoError(t, err)
	for _, role := range []string{tenant.RoleAdmin, tenant.RoleViewer} {
		key, err := b.tenants.CreateTenantKey(context.Background(), acme, role, "test")
		require.NoError(t, err)

		status, _, body := b.call(t, http.MethodGet, "/v1/tenants/acme", key, nil)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "acme", body["partnerCode"])

		status, ctype, body := b.call(t, http.MethodGet, "/v1/tenants/rival", key, nil)
		require.Equal(t, http.StatusNotFound, status, "never 403, never data")
		require.Equal(t, "application/problem+json", ctype)
		require.NotContains(t, fmt.Sprint(body), "rival")

		status, _, _ = b.call(t, http.MethodPost, "/v1/tenants", key, map[string]any{"partnerCode": "mine", "partnerId": 3, "name": "n"})
		require.Equal(t, http.StatusForbidden, status)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		status, _, body := b.call(t, http.MethodGet, path, "", nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "ok", body["status"])
	}
	resp, err := http.Get(b.srv.URL + "/openapi.yaml")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(doc), "receive-payment-event")
	resp2, err := http.Get(b.srv.URL + "/docs")
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusOK, resp2.StatusCode)
}

// lockedWriter lets parallel handlers log into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
