package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestMain(m *testing.M) {
	// In-process servers (trace_test.go) start plugins under resource
	// limits, through this binary re-executed as the sandbox shim.
	host.SandboxMain()
	code := pgtest.Run(m)
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binDir holds the binaries built for this test binary; TestMain removes it.
var binDir string

// binaries builds partnerhub and the wallet plugin once per test binary.
var binaries = sync.OnceValues(func() (map[string]string, error) {
	dir, err := os.MkdirTemp("", "partnerhub-bin-")
	if err != nil {
		return nil, err
	}
	binDir = dir
	// Plugins may run as an unprivileged user: the binary must be readable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, pkg := range map[string]string{
		"partnerhub": "github.com/partnerhub/partnerhub/cmd/partnerhub",
		"wallet":     walletPackage,
	} {
		path := filepath.Join(dir, name)
		if msg, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", pkg, err, msg)
		}
		out[name] = path
	}
	return out, nil
})

// server is a running `partnerhub serve` process against a private database.
type server struct {
	url         string
	operatorKey string
	dataDir     string
	pool        *pgxpool.Pool
	tenants     *tenant.Service
	registry    *plugins.Registry
	cmd         *exec.Cmd
	logs        *syncBuffer
	exited      chan error
	env         []string // the serve process's environment; startPeer reuses it
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// tempDir is a directory an unprivileged plugin user can traverse, removed
// at cleanup (t.TempDir is 0700 under a 0700 parent).
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "partnerhub-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func startServer(t testing.TB, extraEnv ...string) *server {
	t.Helper()
	bins, err := binaries()
	require.NoError(t, err)
	dbURL := pgtest.NewURL(t)
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	s := &server{operatorKey: tenant.NewKey(), dataDir: tempDir(t), logs: &syncBuffer{}, exited: make(chan error, 1)}
	addr := freeAddr(t)
	s.url = "http://" + addr
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"PARTNERHUB_DATABASE_URL=" + dbURL,
		"PARTNERHUB_SECRET_KEY=" + base64.StdEncoding.EncodeToString(secret),
		"PARTNERHUB_OPERATOR_KEY=" + s.operatorKey,
		"PARTNERHUB_LISTEN=" + addr,
		"PARTNERHUB_DATA_DIR=" + s.dataDir,
		"PARTNERHUB_LOG_LEVEL=debug",
		"PARTNERHUB_SHUTDOWN_TIMEOUT=10s",
	}
	env = append(env, extraEnv...)
	s.env = env

	// migrate is safe to run twice (the template was migrated already).
	for range 2 {
		cmd := exec.Command(bins["partnerhub"], "migrate")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}

	s.cmd = exec.Command(bins["partnerhub"], "serve")
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	require.NoError(t, s.cmd.Start())
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "server did not become ready")

	s.pool, err = pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(s.pool.Close)
	box, err := seal.New(secret)
	require.NoError(t, err)
	s.tenants = tenant.NewService(s.pool, box)
	s.registry = plugins.NewRegistry(s.pool)
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t testing.TB) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		require.NoError(t, err, "serve should exit cleanly on SIGTERM")
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Fatal("serve did not stop within 20s of SIGTERM")
	}
}

// createTenant creates a tenant through the API and returns its staging Signing Key.
func (s *server) createTenant(t testing.TB, code string, id int64) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"partnerCode": code, "partnerId": id, "name": "Studio " + code})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/tenants", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.operatorKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusCreated, resp.StatusCode, out)
	return out["stagingSigningKey"].(string)
}

// activateWallet registers the wallet binary for the tenant and makes it
// active in staging. (The upload API arrives with plugin management.)
func (s *server) activateWallet(t testing.TB, code string) {
	t.Helper()
	bins, err := binaries()
	require.NoError(t, err)
	bin, err := os.ReadFile(bins["wallet"])
	require.NoError(t, err)
	s.activate(t, code, bin)
}

// activate registers bin as the tenant's plugin and makes it active in staging.
func (s *server) activate(t testing.TB, code string, bin []byte) {
	t.Helper()
	ctx := context.Background()
	tn, err := s.tenants.Get(ctx, code)
	require.NoError(t, err)
	pl, err := s.registry.Register(ctx, plugins.RegisterParams{
		TenantID: tn.ID, Name: "wallet", Version: "1.0.0", OS: runtime.GOOS, Arch: runtime.GOARCH, Binary: bin,
	})
	require.NoError(t, err)
	require.NoError(t, db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		return s.tenants.SetActivePluginTx(ctx, tx, tn, tenant.Staging, pl.ID)
	}))
	// The server caches environments for up to 2s.
	time.Sleep(2100 * time.Millisecond)
}

// sendEvent posts a signed SUCCESSFUL event and returns the ack status.
func (s *server) sendEvent(t testing.TB, code string, id int64, key, reference string) (int, map[string]any) {
	t.Helper()
	return s.send(t, code, key, sampleEvent(code, id, reference, 77))
}

func (s *server) send(t testing.TB, code, key string, body []byte) (int, map[string]any) {
	t.Helper()
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/pay1st/staging/"+code+"/payment-events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(pay1st.HeaderTimestamp, ts)
	req.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(key, ts, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

func sampleEvent(code string, id int64, reference string, customer int64) []byte {
	return []byte(fmt.Sprintf(`{"partnerId":%d,"partnerCode":%q,"partnerReference":"order-%s","reference":%q,`+
		`"orderAmount":100.50,"currencyCode":"NGN","countryCode":"NG","source":"web","platform":"WEB",`+
		`"ipAddress":"203.0.113.9","createdDate":"2026-03-17T08:10:52Z","updatedDate":"2026-03-17T08:11:52.544247646Z",`+
		`"status":"SUCCESSFUL","message":"Approved","statusCode":0,"customerId":%d,"paymentMethod":"CARD",`+
		`"taxPercentage":7.5,"partnerWebhookUrl":"https://hub.example.com/pay1st/staging/%s/payment-events"}`,
		id, code, reference, reference, customer, code))
}

// walletFile is the wallet plugin's ledger (see plugins/examples/wallet).
type walletFile struct {
	Balances map[string]map[string]string `json:"balances"`
	Applied  map[string]struct {
		Kind    string            `json:"kind"`
		Player  string            `json:"player"`
		Credits map[string]string `json:"credits"`
		At      time.Time         `json:"at"`
	} `json:"applied"`
}

func (s *server) wallet(t testing.TB, code string) walletFile {
	t.Helper()
	var w walletFile
	raw, err := os.ReadFile(filepath.Join(s.dataDir, "plugins", "work", code, tenant.Staging, "wallet.json"))
	if os.IsNotExist(err) {
		return w
	}
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &w))
	return w
}

func (s *server) fulfilmentState(t testing.TB, reference string) string {
	t.Helper()
	var state string
	err := s.pool.QueryRow(context.Background(), `SELECT f.state FROM fulfilments f JOIN payments p ON p.id = f.payment_id
		WHERE p.reference = $1`, reference).Scan(&state)
	if err == pgx.ErrNoRows {
		return ""
	}
	require.NoError(t, err)
	return state
}

// TestEndToEnd: the real server and the real wallet plugin process; a signed
// SUCCESSFUL event sent three times credits the player exactly once.
func TestEndToEnd(t *testing.T) {
	// The console exporter turns tracing on through the standard variable.
	s := startServer(t, "OTEL_TRACES_EXPORTER=console")
	key := s.createTenant(t, "acme", 1042)
	s.activateWallet(t, "acme")

	for i, want := range []string{"accepted", "duplicate", "duplicate"} {
		status, out := s.sendEvent(t, "acme", 1042, key, "C-E2E-1-P")
		require.Equal(t, http.StatusOK, status, "send %d: %v", i, out)
		require.Equal(t, want, out["status"])
	}
	require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-E2E-1-P") == payment.StateSucceeded },
		20*time.Second, 50*time.Millisecond, "fulfilment did not succeed")

	// One more duplicate after fulfilment: still nothing new.
	status, out := s.sendEvent(t, "acme", 1042, key, "C-E2E-1-P")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "duplicate", out["status"])
	time.Sleep(500 * time.Millisecond)

	w := s.wallet(t, "acme")
	require.Equal(t, map[string]string{"NGN": "100.5"}, normalise(w.Balances["77"]), "credited exactly once")
	require.Len(t, w.Applied, 1)
	idem := payment.IdempotencyKey("acme", tenant.Staging, "C-E2E-1-P", payment.KindFulfil)
	require.Contains(t, w.Applied, idem, "the plugin got the stable idempotency key")

	var jobs, attempts int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`).Scan(&jobs))
	require.Equal(t, 1, jobs)
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT attempts FROM fulfilments`).Scan(&attempts))
	require.Equal(t, 1, attempts)

	// A clean stop leaves no plugin process behind.
	s.stop(t)
	require.Empty(t, processesUnder(t, s.dataDir), "plugin processes outlived the server")
	require.NotContains(t, s.logs.String(), key, "the Signing Key never reaches the logs")
	require.NotContains(t, s.logs.String(), s.operatorKey, "nor the operator key")
	require.Contains(t, s.logs.String(), `"Name":"POST /pay1st/{env}/{partnerCode}/payment-events"`,
		"webhooks get an HTTP server span")
}

// TestShutdownFinishesRunningFulfilment: SIGTERM while a plugin call is in
// flight lets the call finish and its success be recorded before exit.
func TestShutdownFinishesRunningFulfilment(t *testing.T) {
	s := startServer(t)
	key := s.createTenant(t, "slow", 5005)
	slow := plugintest.Build(t, "github.com/partnerhub/partnerhub/jobs/testdata/scriptplugin")
	s.activate(t, "slow", slow.Bytes)

	status, out := s.send(t, "slow", key, sampleEvent("slow", 5005, "C-SLOW-P", 5)) // customer 5: a 2 s call
	require.Equal(t, http.StatusOK, status, out)
	require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-SLOW-P") == payment.StatePending },
		20*time.Second, 10*time.Millisecond, "the plugin call did not start")

	s.stop(t)
	require.Equal(t, payment.StateSucceeded, s.fulfilmentState(t, "C-SLOW-P"), "the running call was allowed to finish")
	var state string
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT state::text FROM river_job WHERE kind = 'fulfil'`).Scan(&state))
	require.Equal(t, "completed", state)
}

// normalise drops trailing zeros so "100.50" and "100.5" compare equal.
func normalise(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if strings.Contains(v, ".") {
			v = strings.TrimRight(strings.TrimRight(v, "0"), ".")
		}
		out[k] = v
	}
	return out
}

// processesUnder lists running processes whose executable lies under dir
// (a data directory's plugin cache, say).
func processesUnder(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err, "this check needs /proc")
	var found []string
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, dir) {
			found = append(found, e.Name()+" "+exe)
		}
	}
	return found
}
