package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/tenant"
)

// pluginBundle is a server with plugin management: a registry with an
// upload limit of maxSize and a real plugin host.
type pluginBundle struct {
	bundle
	registry *plugins.Registry
}

func setupPlugins(t *testing.T, maxSize int64) pluginBundle {
	t.Helper()
	return setupPluginsWith(t, pluginSetup{maxSize: maxSize})
}

// pluginSetup varies setupPluginsWith's server: the registry's size limit
// and quota, the plugin routes' limits, the HTTP server's timeouts (0: none)
// and the plugin host (a real one when nil).
type pluginSetup struct {
	maxSize                   int64
	quota                     plugins.Quota
	limits                    api.PluginLimits
	readTimeout, writeTimeout time.Duration
	host                      api.PluginHost
}

func setupPluginsWith(t *testing.T, c pluginSetup) pluginBundle {
	t.Helper()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tenants := tenant.NewService(pool, box, tenant.WithLogger(logger))
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, logger)
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "api-plugins-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755)) // plugins may run as nobody
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	registry := plugins.NewRegistry(pool, plugins.WithSealer(box), plugins.WithAuditor(tenants), plugins.WithMaxSize(c.maxSize),
		plugins.WithTempDir(filepath.Join(dir, "uploads")), plugins.WithLogger(logger), plugins.WithQuota(c.quota))
	ph := c.host
	if ph == nil {
		h, err := host.New(host.Config{CacheDir: filepath.Join(dir, "cache"), WorkDir: filepath.Join(dir, "work"), Logger: logger}, registry)
		require.NoError(t, err)
		t.Cleanup(func() { _ = h.Close() })
		ph = h
	}
	srv := httptest.NewUnstartedServer(api.New(api.Deps{
		Tenants: tenants, Payments: payment.NewService(pool, enq), Logger: logger,
		Ready:        func(ctx context.Context) error { return pool.Ping(ctx) },
		MaxBodyBytes: 1 << 20, SignatureWindow: 5 * time.Minute,
		Plugins: registry, PluginHost: ph, PluginLimits: c.limits,
	}))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = c.readTimeout, c.writeTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	key := tenant.NewKey()
	require.NoError(t, tenants.EnsureOperatorKey(context.Background(), key, "test"))
	return pluginBundle{bundle: bundle{pool: pool, srv: srv, operatorKey: key, logs: logs, tenants: tenants}, registry: registry}
}

// uploadPlugin posts body as an executable; q holds name, version, os and
// arch (os and arch default to this machine's). size -1 sends it chunked.
func (b pluginBundle) uploadPlugin(t *testing.T, key, code string, q map[string]string, body io.Reader, size int64) (int, map[string]any) {
	t.Helper()
	v := url.Values{"os": {runtime.GOOS}, "arch": {runtime.GOARCH}}
	for k, x := range q {
		v.Set(k, x)
	}
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/tenants/"+code+"/plugins?"+v.Encode(), body)
	require.NoError(t, err)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

func (b pluginBundle) upload(t *testing.T, code, name, version string, bin []byte) int64 {
	t.Helper()
	status, out := b.uploadPlugin(t, b.operatorKey, code, map[string]string{"name": name, "version": version}, bytes.NewReader(bin), int64(len(bin)))
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, status, out)
	return int64(out["id"].(float64))
}

func elf(s string) []byte { return append([]byte("\x7fELF"), s...) }

func TestUploadPlugin(t *testing.T) {
	t.Parallel()
	b := setupPlugins(t, 64<<10)
	b.createTenant(t, "acme", 1)
	acme, err := b.tenants.Get(context.Background(), "acme")
	require.NoError(t, err)
	viewer, err := b.tenants.CreateTenantKey(context.Background(), acme, tenant.RoleViewer, "viewer")
	require.NoError(t, err)
	admin, err := b.tenants.CreateTenantKey(context.Background(), acme, tenant.RoleAdmin, "ci")
	require.NoError(t, err)
	q := map[string]string{"name": "wallet", "version": "1.0.0"}
	bin := elf("wallet one")

	status, out := b.uploadPlugin(t, admin, "acme", q, bytes.NewReader(bin), int64(len(bin)))
	require.Equal(t, http.StatusCreated, status, out)
	id := out["id"]
	require.Equal(t, "wallet", out["name"])
	require.Equal(t, "1.0.0", out["version"])
	require.EqualValues(t, len(bin), out["size"])
	require.Len(t, out["sha256"], 64)
	require.Equal(t, runtime.GOOS, out["os"])
	require.Equal(t, []any{}, out["activeIn"])

	status, out = b.uploadPlugin(t, admin, "acme", q, bytes.NewReader(bin), -1)
	require.Equal(t, http.StatusOK, status, "same bytes again (chunked this time): the existing plugin")
	require.Equal(t, id, out["id"])

	status, out = b.uploadPlugin(t, admin, "acme", q, bytes.NewReader(elf("other")), -1)
	require.Equal(t, http.StatusConflict, status, out)

	status, out = b.uploadPlugin(t, viewer, "acme", map[string]string{"name": "wallet", "version": "2"}, bytes.NewReader(bin), int64(len(bin)))
	require.Equal(t, http.StatusForbidden, status, out)

	// Over the limit: refused up front by Content-Length, or while reading a chunked body.
	big := elf(strings.Repeat("x", 64<<10))
	for _, size := range []int64{int64(len(big)), -1} {
		status, out = b.uploadPlugin(t, admin, "acme", map[string]string{"name": "big", "version": "1"}, bytes.NewReader(big), size)
		require.Equal(t, http.StatusRequestEntityTooLarge, status, out)
		require.Contains(t, out["detail"], "65536")
	}

	tests := []struct {
		name  string
		q     map[string]string
		body  []byte
		where string
	}{
		{"missing name", map[string]string{"version": "1"}, bin, "query.name"},
		{"bad name", map[string]string{"name": "Bad Name", "version": "1"}, bin, "query.name"},
		{"missing version", map[string]string{"name": "w"}, bin, "query.version"},
		{"unknown os", map[string]string{"name": "w", "version": "1", "os": "plan9x"}, bin, "query.os"},
		{"unknown arch", map[string]string{"name": "w", "version": "1", "arch": "vax"}, bin, "query.arch"},
		{"empty", map[string]string{"name": "w", "version": "1"}, []byte{}, "body.body"},
		{"not an executable", map[string]string{"name": "w", "version": "1"}, []byte(`{"json": true}`), "body.body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := b.uploadPlugin(t, admin, "acme", tt.q, bytes.NewReader(tt.body), int64(len(tt.body)))
			require.Equal(t, http.StatusUnprocessableEntity, status, out)
			blob, _ := json.Marshal(out["errors"])
			require.Contains(t, string(blob), tt.where)
		})
	}

	// Not octet-stream: 415.
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/tenants/acme/plugins?name=w&version=1&os=linux&arch=amd64",
		strings.NewReader("--boundary"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=boundary")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)

	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM plugins`).Scan(&n))
	require.Equal(t, 1, n, "only the first upload stored anything")
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM plugin_blobs`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestListGetDeletePlugins(t *testing.T) {
	t.Parallel()
	b := setupPlugins(t, 1<<20)
	b.createTenant(t, "acme", 1)
	var ids []int64
	for _, v := range []string{"1", "2", "3"} {
		ids = append(ids, b.upload(t, "acme", "p", v, elf(v)))
	}

	req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/v1/tenants/acme/plugins?limit=2", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.operatorKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"nextCursor"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	resp.Body.Close()
	require.Len(t, page.Items, 2)
	require.NotEmpty(t, page.NextCursor)
	require.Contains(t, resp.Header.Get("Link"), "cursor="+page.NextCursor)
	status, _, rest := b.call(t, http.MethodGet, "/v1/tenants/acme/plugins?limit=2&cursor="+page.NextCursor, b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, rest["items"], 1)
	require.NotContains(t, rest, "nextCursor")

	path := "/v1/tenants/acme/plugins/" + strconv.FormatInt(ids[0], 10)
	status, _, got := b.call(t, http.MethodGet, path, b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, "1", got["version"])

	// Active (set directly, as promotion or dev mode do): deletion refused.
	ctx := context.Background()
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, b.tenants.SetActivePluginTx(ctx, tx, acme, tenant.Staging, ids[0]))
	require.NoError(t, tx.Commit(ctx))
	status, ctype, out := b.call(t, http.MethodDelete, path, b.operatorKey, nil)
	require.Equal(t, http.StatusConflict, status, out)
	require.Equal(t, "application/problem+json", ctype)
	require.Contains(t, out["detail"], "staging")

	status, _, _ = b.call(t, http.MethodDelete, "/v1/tenants/acme/plugins/"+strconv.FormatInt(ids[1], 10), b.operatorKey, nil)
	require.Equal(t, http.StatusNoContent, status)
	status, _, _ = b.call(t, http.MethodGet, "/v1/tenants/acme/plugins/"+strconv.FormatInt(ids[1], 10), b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = b.call(t, http.MethodDelete, "/v1/tenants/acme/plugins/999999", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, status)
}

// TestActivatePluginAPI: a real plugin is started before the switch; a
// broken one is refused with the reason and the previous one stays;
// settings are write-only throughout.
func TestActivatePluginAPI(t *testing.T) {
	t.Parallel()
	b := setupPlugins(t, 64<<20)
	b.createTenant(t, "acme", 1)
	wallet := b.upload(t, "acme", "wallet", "1.0.0", plugintest.Wallet(t).Bytes)
	broken := b.upload(t, "acme", "broken", "1", []byte("#!/bin/sh\necho hello\n"))
	secret := "sk-PLUGIN-SETTING-777"

	status, _, out := b.call(t, http.MethodGet, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, status, out)
	require.Contains(t, out["detail"], "no active plugin")

	status, _, out = b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/plugin-settings", b.operatorKey,
		map[string]any{"settings": map[string]string{"api_token": secret, "data_dir": "wallet-data"}})
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, []any{"api_token", "data_dir"}, out["names"])
	require.NotContains(t, mustJSON(t, out), secret)

	status, _, out = b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, map[string]any{"pluginId": wallet})
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, map[string]any{"name": "wallet", "version": "1.0.0", "protocolVersion": float64(1),
		"capabilities": []any{"lookup_user", "fulfil", "reverse"}}, out["description"])
	require.Equal(t, []any{"api_token", "data_dir"}, out["settingNames"])
	require.Equal(t, []any{"staging"}, out["plugin"].(map[string]any)["activeIn"])

	status, _, out = b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, map[string]any{"pluginId": broken})
	require.Equal(t, http.StatusUnprocessableEntity, status, out)
	require.Contains(t, out["detail"], "handshake")
	require.Equal(t, "handshake", out["errors"].([]any)[0].(map[string]any)["message"])

	status, _, out = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, out)
	require.EqualValues(t, wallet, out["plugin"].(map[string]any)["id"], "the previous plugin stays active")
	require.Equal(t, "wallet", out["description"].(map[string]any)["name"])
	status, _, out = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/staging", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, wallet, out["activePluginId"])

	// Unknown plugin, unknown environment, no body.
	status, _, _ = b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, map[string]any{"pluginId": 999999})
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = b.call(t, http.MethodPut, "/v1/tenants/acme/environments/qa/plugin", b.operatorKey, map[string]any{"pluginId": wallet})
	require.Equal(t, http.StatusNotFound, status)

	// The wallet gets the settings: one it cannot use (its ledger under a
	// directory that cannot exist) is refused by its Configure, and the
	// previous settings stay.
	status, _, out = b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/plugin-settings", b.operatorKey,
		map[string]any{"settings": map[string]string{"api_token": secret, "data_dir": "/proc/no-such-dir/wallet-data"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, out)
	require.Equal(t, "settings", out["errors"].([]any)[0].(map[string]any)["message"])
	status, _, out = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, []any{"api_token", "data_dir"}, out["settingNames"])

	// Never in a response of any read, nor in the logs.
	for _, path := range []string{"/v1/tenants/acme/plugins", "/v1/tenants/acme/environments/staging/plugin",
		"/v1/tenants/acme/environments/staging", "/v1/tenants/acme/audit-log"} {
		status, _, out := b.call(t, http.MethodGet, path, b.operatorKey, nil)
		require.Equal(t, http.StatusOK, status, path)
		require.NotContains(t, mustJSON(t, out), secret, path)
	}
	require.NotContains(t, b.logs.String(), secret)
}

func TestPluginSettingsBodyNeverQuoted(t *testing.T) {
	t.Parallel()
	b := setupPlugins(t, 1<<20)
	b.createTenant(t, "acme", 1)
	secret := "sk-QUOTE-ME-NOT-555"
	tests := []struct {
		name   string
		body   any
		status int
	}{
		{"value not a string", map[string]any{"settings": map[string]any{"k": map[string]string{"x": secret}}}, http.StatusBadRequest},
		{"unknown property", map[string]any{"settings": map[string]string{}, secret: "x"}, http.StatusBadRequest},
		{"not an object", []string{secret}, http.StatusBadRequest},
		{"settings missing", map[string]any{}, http.StatusUnprocessableEntity},
		{"bad name", map[string]any{"settings": map[string]string{"bad name": secret}}, http.StatusUnprocessableEntity},
		{"value too long", map[string]any{"settings": map[string]string{"k": secret + strings.Repeat("x", 5000)}}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, out := b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/plugin-settings", b.operatorKey, tt.body)
			require.Equal(t, tt.status, status, out)
			require.NotContains(t, mustJSON(t, out), secret)
		})
	}
	require.NotContains(t, b.logs.String(), secret)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}
